"""The served OpenAPI documents match the committed contract in docs/openapi/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgesync.openapi import documents, render

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "openapi"


@pytest.mark.parametrize("service", ["cloud", "edge"])
def test_served_schema_matches_committed(service: str) -> None:
    """
    A change to either API must come with a reviewed change to its committed
    document: run `make openapi` and commit the result.
    """
    served = render(documents()[service])

    committed = (COMMITTED / f"{service}.json").read_text(encoding="utf-8")

    assert json.loads(served) == json.loads(committed), (
        f"docs/openapi/{service}.json is out of date: run `make openapi`"
    )
    assert served == committed


@pytest.mark.parametrize("service", ["cloud", "edge"])
def test_validation_errors_are_documented_as_problems(service: str) -> None:
    """
    Every 422 in the documents is an RFC 9457 problem, as served, never
    FastAPI's default validation error shape.
    """
    document = documents()[service]

    documented = [
        (method, path, operation["responses"]["422"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "422" in operation["responses"]
    ]
    assert documented
    for method, path, answer in documented:
        schema = answer["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, f"{method} {path}"
