"""Allow ``python -m edgesync``."""

from edgesync.cli import app

app(prog_name="edgesync")
