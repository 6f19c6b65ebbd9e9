"""
The edge service: reports written offline, synced with the cloud when it can.

Writes go through one writer thread (``writer``) that stores each report row
with its outbox change in one transaction; the sync loop (``loop``) pushes the
outbox and pulls the cloud's feed. ``create_app`` builds the FastAPI app.
"""

from edge_service.app import create_app
from edge_service.settings import EdgeSettings

__all__ = ["EdgeSettings", "create_app"]
