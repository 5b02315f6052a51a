"""What every request handler reaches: the open archive and the page renderer, kept on
the app (``request.app.state.web``), and the signed-in principal of the request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.requests import Request

    from preserver.archive import Archive
    from preserver.config import Config


INGESTS_AT_ONCE = 2  # ``preserver ingest`` children of uploads at once (web.ingesting)


@dataclass(frozen=True, kw_only=True)
class WebState:
    archive: Archive
    templates: Environment
    # each child may read a report with hundreds of MiB: the others wait for a slot
    ingests: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(INGESTS_AT_ONCE))

    @property
    def config(self) -> Config:
        return self.archive.config


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def sent_path(request: Request) -> str:
    """The request's path as the client sent it, its percent-escapes kept: a target key
    holding ``%2F`` or ``%20`` names another page once decoded (``request.url.path``
    decodes them), so a link or redirect back to this page is built from this."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes) or not raw.startswith(b"/"):
        return request.url.path
    return raw.decode("utf-8", "replace")


def is_api(request: Request) -> bool:
    """``/api/…`` answers JSON; every other path is a page."""
    return request.url.path == "/api" or request.url.path.startswith("/api/")
