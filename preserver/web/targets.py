"""The target page and the API of targets, links and lookups (docs/web.md "Targets and
files", "The API").

- ``GET /targets/<key>``: one target for a legal team: the video and screenshot played
  from the archive (``/files/<sha256>``, ``web.blobs``), every file of every capture, the
  signed manifests and what they say, the availability history, the custody events each
  with its inclusion proof in the custody ledger (``views.custody``), and the citations.
  ``<key>`` is a target key (``youtube:abc``, ``web:https://…``, percent-encoded or not),
  a capture id or a manifest's SHA-256, as ``preserver show`` takes.
- ``GET /api/targets/<key>``: ``show --json``; ``GET /api/links?report=NAME``:
  ``links --json``; ``GET /api/lookup/<sha256>``: the ``lookup --json`` object of one
  hash, ``{"sha256", "matches"}`` (no ``file``: nothing was read), 200 with ``matches``
  empty when the archive holds no such file, as the CLI prints it.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from preserver.accounts.roles import Principal, Role
from preserver.errors import UnknownKey
from preserver.web.auth import require
from preserver.web.context import web_state
from preserver.web.errors import WebError
from preserver.web.render import page

router = APIRouter()
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_MAX_KEY = 8192


def target_path(key: str) -> str:
    """The target page's path for ``key`` (every reserved character percent-encoded)."""
    return "/targets/" + quote(key, safe="")


async def _shown(request: Request, key: str) -> dict[str, Any]:
    """``show --json`` of ``key``: ``views.show``, with each capture's collection record
    read from its manifest in a worker thread (the store may be a bucket)."""
    from preserver.views.targets import collection_of, show

    if not key or len(key) > _MAX_KEY or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise WebError(400, f"a target key has 1 to {_MAX_KEY} characters, none of them a "
                            "control character")
    archive = web_state(request).archive
    try:
        async with archive.db.reader() as reader:
            item = await show(reader, key)
    except UnknownKey as exc:
        raise WebError(404, str(exc)) from exc
    for capture in item["captures"]:
        capture["collection"] = await to_thread.run_sync(collection_of, archive.store,
                                                         capture["manifest_sha256"])
    return item


@router.get("/api/targets/{key:path}", tags=["api"],
            summary="One target in full (= preserver show KEY --json)")
async def api_target(request: Request, key: str, principal: Viewer) -> dict[str, Any]:
    return await _shown(request, key)


@router.get("/api/links", tags=["api"],
            summary="Targets with their citations, status and captures (= links --json)")
async def api_links(request: Request, principal: Viewer,
                    report: str | None = None) -> list[dict[str, Any]]:
    from preserver.views.targets import links

    try:
        async with web_state(request).archive.db.reader() as reader:
            return await links(reader, report=report)
    except UnknownKey as exc:
        raise WebError(404, str(exc)) from exc


@router.get("/api/lookup/{sha256}", tags=["api"],
            summary="Archived files with this SHA-256 (= one object of lookup --json)")
async def api_lookup(request: Request, sha256: str, principal: Viewer) -> dict[str, Any]:
    from preserver.views.targets import lookup

    if not _HEX.fullmatch(sha256):
        raise WebError(400, "a SHA-256 is 64 hexadecimal digits")
    address = sha256.lower()
    async with web_state(request).archive.db.reader() as reader:
        return {"sha256": address, "matches": await lookup(reader, address)}


@router.get("/targets/{key:path}", include_in_schema=False)
async def target_page(request: Request, key: str, principal: Viewer) -> Response:
    from preserver.views.custody import ledger_entries
    from preserver.views.files import manifest_facts

    item = await _shown(request, key)
    archive = web_state(request).archive
    async with archive.db.reader() as reader:
        ledger = await ledger_entries(reader, [e["id"] for e in item["events"]])
    facts = {}
    for capture in item["captures"]:
        facts[capture["id"]] = await to_thread.run_sync(partial(
            manifest_facts, archive.store, manifest_sha256=capture["manifest_sha256"],
            signature_sha256=capture["signature_sha256"],
            public_key_pem=archive.key.public_key_pem))
    files = [f for c in item["captures"] for f in c["files"]]
    media = [f for f in files if f["media_type"].split("/", 1)[0] in ("video", "audio")]
    shots = [f for f in files if f["media_type"] == "image/png"
             and ("screenshot" in f["role"] or "screenshot" in f["name"].lower())]
    return page(request, "target.html", principal=principal, item=item, ledger=ledger,
                facts=facts, media=media, screenshots=shots,
                json_path="/api/targets/" + quote(item["key"], safe=""),
                safe_url=item["url"] if item["url"].startswith(("http://", "https://")) else "")
