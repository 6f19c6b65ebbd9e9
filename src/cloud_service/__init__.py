"""
The edgesync cloud: the inbox every edge pushes to, and the feed they pull.

``create_app(CloudSettings(...))`` returns the ASGI application.
"""

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings

__all__ = ["CloudSettings", "create_app"]
