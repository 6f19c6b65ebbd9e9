"""
Write the served OpenAPI documents of both services to a folder.

``make openapi`` runs this; a test compares the committed copies in
``docs/openapi/`` with what the services serve, so the contract cannot drift
without a reviewed change to those files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def documents() -> dict[str, dict[str, Any]]:
    """Return the OpenAPI document of each service, by service name."""
    from cloud_service.app import create_app as create_cloud
    from cloud_service.settings import CloudSettings
    from edge_service.app import create_app as create_edge
    from edge_service.settings import EdgeSettings

    # The documents do not depend on the keys: every route declares its
    # bearer scheme whether authentication is on or not.
    unkeyed: dict[str, Any] = {"migrate_on_start": False, "allow_anonymous": True}
    return {
        "cloud": create_cloud(CloudSettings(**unkeyed)).openapi(),
        "edge": create_edge(EdgeSettings(**unkeyed)).openapi(),
    }


def render(document: dict[str, Any]) -> str:
    """Return the committed text form of one document."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(folder: str) -> None:
    """Write ``cloud.json`` and ``edge.json`` into *folder*."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (target / f"{name}.json").write_text(render(document), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi")
