"""``preserver web``: the pages for legal teams and archivists, and the HTTP API.

- ``app``: ``create_app(config)``, the FastAPI application, and its error pages;
- ``auth``: who a request acts for (session cookie or bearer token), roles, CSRF;
- ``pages`` and ``api``: the routes; ``render``, ``i18n``, ``messages``: the pages'
  templates and their two languages; ``forms``: bounded form reading;
- ``context``, ``errors``: what the handlers share;
- ``actions``, ``api_actions``: uploads (``uploads``, ``ingesting``), runs (``runs``,
  ``launcher``) and package downloads (``packages``) for archivists and legal teams.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.web.app import create_app

__all__ = ["create_app"]

__getattr__, __dir__ = exports(__name__)
