"""The deployment files are valid: compose.yaml against the Compose specification."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK = Path(sys.executable).with_name("check-jsonschema")


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, our own files
        [str(CHECK), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_file_follows_the_compose_spec() -> None:
    """compose.yaml validates against the vendored Compose specification."""
    result = validate_compose(ROOT / "compose.yaml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_check_catches_a_typo(tmp_path: Path) -> None:
    """The same check fails on a misspelt key, so the test above can fail."""
    broken = tmp_path / "compose.yaml"
    text = (ROOT / "compose.yaml").read_text().replace("depends_on:", "depends_onn:", 1)
    broken.write_text(text)

    result = validate_compose(broken)

    assert result.returncode != 0
    assert "depends_onn" in result.stdout + result.stderr
