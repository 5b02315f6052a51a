"""``/api/docs``: Swagger UI over ``/api/openapi.json``, for people reading the API, served
from this server alone, so that it works on a machine with no internet.

FastAPI's own page loads ``swagger-ui-dist@5`` from a CDN: blank offline, and whatever
release is newest, run on this site's origin, where a signed-in archivist's cookie is.
Here the script and stylesheet are those of the ``fastapi-offline`` package (MIT), which
ships swagger-ui-dist's own files byte for byte (5.32.6: the same SHA-256 as ``npm pack
swagger-ui-dist@5.32.6``), served under ``/static/swagger-ui/`` (``app.create_app``),
each with its Subresource Integrity hash: an upgraded package that ships other bytes is
refused by the browser until its hashes are put here
(``openssl dgst -sha384 -binary FILE | base64``). The page starts Swagger UI from our own
static file, and its Content-Security-Policy is the pages' own (``render``): scripts,
styles and requests from this site only, no inline script or style.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import HTMLResponse

ASSETS = str(files("fastapi_offline") / "static")  # swagger-ui-dist's files, and others
ASSETS_URL = "/static/swagger-ui"
SWAGGER_UI = "5.32.6"
SCRIPT = (f"{ASSETS_URL}/swagger-ui-bundle.js",
          "sha384-EYdOaiRwn44zNjrw+Tfs06qYz9BGQVo2f4/pLY5i7VorbjnZNhdplAbTBk8FXHUJ")
STYLESHEET = (f"{ASSETS_URL}/swagger-ui.css",
              "sha384-9Q2fpS+xeS4ffJy6CagnwoUl+4ldAYhOs9pgZuEKxypVModhmZFzeMlvVsAjf7uT")
POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
          "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>preserver API</title>
<link rel="stylesheet" href="{STYLESHEET[0]}" integrity="{STYLESHEET[1]}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SCRIPT[0]}" integrity="{SCRIPT[1]}"></script>
<script src="/static/apidocs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/api/docs")
async def api_docs() -> HTMLResponse:
    """The API's documentation page (public, as ``/api/openapi.json`` is)."""
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": POLICY,
                                        "Referrer-Policy": "same-origin"})
