"""
What the demo's analysts do: seeded, so two runs with one seed do the same.

Shared reports are edited at several edges while edge-b is cut off, in the
patterns a field team produces: disjoint fields (merged), the same field
(conflict), delete against edit (conflict), delete against delete (merged).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

EDGES = ("edge-a", "edge-b", "edge-c")
SHARED = 60
SHARED_OWNER = "edge-a"
CLASSIFICATIONS = ("CUI", "IL4", "IL5")


@dataclass(frozen=True)
class Write:
    """One analyst request against one edge's reports API."""

    edge: str
    method: str
    path: str
    body: dict[str, Any] | None = None


def shared_id(n: int) -> str:
    """Return the id of shared report *n*."""
    return f"shared-report-{n:03d}"


def own_id(edge: str, n: int) -> str:
    """Return the id of edge *edge*'s own report *n*."""
    return f"{edge}-report-{n:03d}"


def creates(reports_per_edge: int) -> list[Write]:
    """Return the creates: shared reports at edge-a, then each edge's own."""
    writes = [
        Write(SHARED_OWNER, "POST", "/reports", _new(shared_id(n), n))
        for n in range(SHARED)
    ]
    for edge in EDGES:
        writes += [
            Write(edge, "POST", "/reports", _new(own_id(edge, n), n))
            for n in range(reports_per_edge)
        ]
    return writes


def _new(report_id: str, n: int) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "title": f"Report {report_id}",
        "content": f"Initial observation {n}: вулиця, 街道, straße.",
        "classification": CLASSIFICATIONS[n % 3],
    }


def apart_edits() -> list[Write]:
    """Return the edits of shared reports made while edge-b is cut off."""
    writes = [
        Write(
            "edge-a", "PATCH", f"/reports/{shared_id(50)}", {"title": "Bridge out (a)"}
        ),
        Write(
            "edge-b", "PATCH", f"/reports/{shared_id(50)}", {"title": "Bridge ok (b)"}
        ),
        Write(
            "edge-c", "PATCH", f"/reports/{shared_id(50)}", {"content": "Seen by c."}
        ),
    ]
    for n in range(20):
        writes.append(_patch("edge-a", shared_id(n), title=f"Title from a {n}"))
        writes.append(_patch("edge-b", shared_id(n), content=f"Content from b {n}"))
    for n in range(20, 40):
        writes.append(_patch("edge-a", shared_id(n), title=f"a says {n}"))
        writes.append(_patch("edge-b", shared_id(n), title=f"b says {n}"))
    for n in range(40, 45):
        writes.append(_patch("edge-a", shared_id(n), content=f"a keeps {n}"))
        writes.append(Write("edge-b", "DELETE", f"/reports/{shared_id(n)}"))
    for n in range(45, 50):
        writes.append(Write("edge-a", "DELETE", f"/reports/{shared_id(n)}"))
        writes.append(Write("edge-b", "DELETE", f"/reports/{shared_id(n)}"))
    return writes


def own_edits(count: int, reports_per_edge: int, seed: int) -> list[Write]:
    """Return *count* edits and a few deletes of each edge's own reports."""
    rng = random.Random(seed)
    deleted: set[str] = set()
    writes: list[Write] = []
    while len(writes) < count:
        edge = rng.choice(EDGES)
        report_id = own_id(edge, rng.randrange(reports_per_edge))
        if report_id in deleted:
            continue
        roll = rng.random()
        if roll < 0.02:
            deleted.add(report_id)
            writes.append(Write(edge, "DELETE", f"/reports/{report_id}"))
        elif roll < 0.5:
            writes.append(_patch(edge, report_id, title=f"Update {len(writes)}"))
        elif roll < 0.9:
            writes.append(_patch(edge, report_id, content=f"Observation {len(writes)}"))
        else:
            writes.append(
                _patch(edge, report_id, classification=rng.choice(CLASSIFICATIONS))
            )
    return writes


def _patch(edge: str, report_id: str, **fields: str) -> Write:
    return Write(edge, "PATCH", f"/reports/{report_id}", fields)
