"""Helpers shared by the benchmarks: figures as JSON lines, PostgreSQL databases."""

from __future__ import annotations

import json
import os
import platform
import statistics
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

PG_ADMIN_URL = os.environ.get(
    "EDGESYNC_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def emit(bench: str, metric: str, value: float, unit: str, **context: Any) -> None:
    """Print one figure as a JSON line."""
    line = {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit}
    print(json.dumps({**line, **context}), flush=True)


def machine() -> dict[str, Any]:
    """Return what the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the *pct* percentile of *values* (inclusive method)."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[int(pct) - 1]


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create an empty PostgreSQL database and yield its asyncpg URL."""
    name = f"edgesync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = PG_ADMIN_URL.rpartition("/")[0]
    try:
        yield base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def change(
    edge: str, report: str, seq: int, counter: int, title: str
) -> dict[str, Any]:
    """Return one change of *report* at *edge* as JSON: create, then updates."""
    op = "create" if counter == 1 else "update"
    return {
        "change_id": str(uuid.uuid4()),
        "report_id": report,
        "op": op,
        "fields": {
            "title": title,
            "content": "Observed at grid 4471, road passable, " * 4,
            "classification": "CUI",
            "deleted": False,
        },
        "base_clock": {edge: counter - 1} if counter > 1 else {},
        "clock": {edge: counter},
        "origin": edge,
        "origin_seq": seq,
        "author": "analyst-1",
        "authored_at": "2026-12-03T12:00:00Z",
    }
