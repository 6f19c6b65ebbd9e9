"""Run every benchmark in turn; each prints its figures as JSON lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_edge_writes.py",
    "bench_sync.py",
    "bench_auth.py",
    "bench_audit_export.py",
)

if __name__ == "__main__":
    for script in SCRIPTS:
        subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE)  # noqa: S603
