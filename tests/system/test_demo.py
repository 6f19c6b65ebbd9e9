"""`edgesync demo` end to end, smaller than the default so that CI stays quick."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_converges_and_reports_json() -> None:
    """
    The demo's cloud and three edges, run as processes, converge after edge-b
    was cut off, and the JSON summary counts changes, outcomes and conflicts.
    """
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgesync",
            "demo",
            "--json",
            "--reports-per-edge",
            "20",
            "--updates",
            "200",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["converged"] is True
    assert summary["tls"] is True
    assert summary["auth"] is True
    assert summary["audit_intact"] is True
    for node in summary["nodes"]:
        # Every node wrote, synced or registered something, and recorded it.
        assert node["audit"]["records"] > 0, node["name"]
    assert summary["nodes"][0]["url"].startswith("https://127.0.0.1:")
    assert summary["changes"] == 60 + 3 * 20 + len_apart_edits() + 200
    assert summary["outcomes"]["conflict"] >= 26
    assert summary["outcomes"]["merged"] >= 20
    assert summary["merged"] == summary["outcomes"]["merged"]
    assert summary["conflicts_open"] == 25
    assert summary["conflicts_resolved"] == 1
    assert [node["name"] for node in summary["nodes"]] == [
        "cloud",
        "edge-a",
        "edge-b",
        "edge-c",
    ]
    assert all(
        node["url"].startswith("http://127.0.0.1:") for node in summary["nodes"][1:]
    )
    assert summary["seconds"] < 60


def len_apart_edits() -> int:
    """Return how many shared-report edits the workload makes while apart."""
    from edgesync.workload import apart_edits

    return len(apart_edits())
