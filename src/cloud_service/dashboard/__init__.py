"""
The cloud's web dashboard: edges, reports and conflicts for people.

Server-rendered pages (Jinja2 templates, one stylesheet, a few lines of
script for live refresh) that the cloud serves itself, with no build step and
nothing loaded from elsewhere. Analysts sign in with the token the API takes
(``edgesync.websession``).
"""

from cloud_service.dashboard.pages import router

__all__ = ["router"]
