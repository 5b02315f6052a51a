"""The worker's part of the manifest's collection record.

docs/design.md "Server, certificates and media responses".

``CaptureResult.collection`` carries what the worker saw of how the content was
collected; ``preserver.capture.record`` merges it into the signed manifest. Every
value is canonical-JSON safe (strings, ints, bools, lists, objects, null; never a
float). The worker fills:

- ``"page"``: the page snapshot's final response, when one answered::

      {"url": "https://example.org/a", "http_status": 200, "ip_address": "93.184.215.14",
       "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
               "chain": "verified", "certificates": 3, "file": "web-….tls.pem"}}

  ``tls`` is ``null`` for plain http; ``file`` names the capture's ``tls`` file
  (the certificate chain as PEM), ``""`` when no certificate could be read.
- ``"media_response"``: the media download's own HTTP responses
  (``workers._media_responses``), a list, empty when yt-dlp downloaded nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workers.errors import StoreFailed
from workers.media import MediaOutcome
from workers.page import PageOutcome
from workers.types import CapturedFile

__all__ = ["TLS_MEDIA_TYPE", "TLS_NAME", "collection", "write_tls"]

TLS_NAME = "page.tls.pem"  # in the work directory; stored as ``<file_base>.tls.pem``
TLS_MEDIA_TYPE = "application/x-pem-file"


def write_tls(page: PageOutcome, work_dir: Path) -> Path | None:
    """Write the page's certificate chain into ``work_dir``; ``None`` when there is none.

    A disk that fails the write fails the capture (``StoreFailed``), as every other
    local failure does.
    """
    if page.tls is None or not page.tls.pem:
        return None
    path = work_dir / TLS_NAME
    try:
        path.write_bytes(page.tls.pem)
    except OSError as exc:
        raise StoreFailed(f"could not write the TLS certificates: {exc}") from exc
    return path


def collection(
    page: PageOutcome, media: MediaOutcome, files: list[CapturedFile]
) -> dict[str, Any]:
    """``CaptureResult.collection``: ``page`` (when a response came) and ``media_response``."""
    record: dict[str, Any] = {"media_response": [dict(r) for r in media.responses]}
    if page.hops:
        tls = page.tls
        tls_file = next((f.name for f in files if f.role == "tls"), "")
        record["page"] = {
            "url": page.final_url, "http_status": page.http_status, "ip_address": page.ip_address,
            "tls": None if tls is None else {
                "version": tls.version, "cipher": tls.cipher, "chain": tls.chain,
                "certificates": tls.certificates, "file": tls_file,
            },
        }
    return record
