"""``/api/docs``: Swagger UI over ``/api/openapi.json``, for people reading the API.

FastAPI's own page loads ``swagger-ui-dist@5`` from the CDN: whatever release is newest,
run on this site's origin, where a signed-in archivist's cookie is. Here the script and
stylesheet are one release, pinned, each with its Subresource Integrity hash, so a
browser refuses any other bytes; the page starts Swagger UI from our own static file, and
its Content-Security-Policy allows scripts from nowhere else and requests to this site
only. To move to another release, take both files from the npm package
(``npm pack swagger-ui-dist@VERSION``) and put their hashes here:
``openssl dgst -sha384 -binary FILE | base64``.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

SWAGGER_UI = "5.35.0"
_CDN = f"https://cdn.jsdelivr.net/npm/swagger-ui-dist@{SWAGGER_UI}"
SCRIPT = (f"{_CDN}/swagger-ui-bundle.js",
          "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9")
STYLESHEET = (f"{_CDN}/swagger-ui.css",
              "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I")
POLICY = ("default-src 'none'; script-src 'self' https://cdn.jsdelivr.net; "
          "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>preserver API</title>
<link rel="stylesheet" href="{STYLESHEET[0]}" integrity="{STYLESHEET[1]}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SCRIPT[0]}" integrity="{SCRIPT[1]}" crossorigin="anonymous"></script>
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
