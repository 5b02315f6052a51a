"""The capture certificates of an evidence package (step (5) of ``preserver.export``):
``certificate.html`` beside each capture's manifest, and ``certificate.pdf`` printed
from it by the Chromium the captures use (``[browser] executable``, one browser for
the whole export).

A PDF that cannot be made (``[browser] enabled = false``, Chromium missing, crashed
or too slow) does not stop the export: the HTML certificates are written, and the
notice says which PDFs are missing and why (on stderr and in VERIFY.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from manifests import CaptureManifest, JsonValue, parse_canonical
from manifests import package_layout as layout
from preserver.archive import Archive
from preserver.export.certificate import (
    MAX_EMBEDDED,
    Cited,
    Screenshot,
    render_certificate,
    screenshot_of,
)
from workers import Printer, PrintFailed


@dataclass(frozen=True, kw_only=True)
class Written:
    """A capture whose manifest, signature and files are in the staging folder."""

    capture_id: str
    target: str  # the target key the capture is filed under
    folder: str  # "data/captures/<target>/<capture id>/"
    manifest: CaptureManifest
    manifest_bytes: bytes
    manifest_sha256: str
    signature_sha256: str


@dataclass(frozen=True, kw_only=True)
class Certified:
    hashes: dict[str, dict[str, str]]  # capture id -> certificate file name -> SHA-256
    notice: str  # "" when every capture has its PDF, else which do not and why


def _collection(manifest_bytes: bytes) -> JsonValue:
    """The manifest's collection record, read from its own bytes (None when it has none)."""
    raw = parse_canonical(manifest_bytes)  # CaptureManifest.from_bytes already parsed it
    return raw.get("collection") if isinstance(raw, dict) else None


def _put(staging: Path, path: str, data: bytes) -> str:
    """Write ``data`` at ``path`` of the payload; returns its SHA-256."""
    (staging / path.removeprefix("data/")).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _embedded(staging: Path, w: Written) -> Screenshot | None:
    """The screenshot for the PDF: its bytes, read from the payload (none past the cap)."""
    shot = screenshot_of(w.manifest)
    if shot is None:
        return None
    path = staging / w.folder.removeprefix("data/") / "files" / shot.name
    return Screenshot(file=shot, data=path.read_bytes() if shot.size <= MAX_EMBEDDED else b"")


async def write_certificates(archive: Archive, staging: Path, written: Sequence[Written], *,
                             report_name: str, report_sha256: str,
                             cited: dict[str, list[Cited]], exported_at: str) -> Certified:
    """Write each capture's certificate.html, then print each to certificate.pdf."""
    hashes: dict[str, dict[str, str]] = {}

    def render(w: Written, screenshot: Screenshot | None) -> str:
        return render_certificate(
            manifest=w.manifest, collection=_collection(w.manifest_bytes),
            manifest_sha256=w.manifest_sha256, signature_sha256=w.signature_sha256,
            key_id=archive.key.key_id, report_name=report_name, report_sha256=report_sha256,
            cited=cited.get(w.target, []), folder=w.folder, exported_at=exported_at,
            screenshot=screenshot)

    for w in written:
        shot = screenshot_of(w.manifest)
        page = render(w, None if shot is None else Screenshot(file=shot))
        hashes[w.capture_id] = {layout.CERTIFICATE_HTML: _put(
            staging, w.folder + layout.CERTIFICATE_HTML, page.encode("utf-8"))}
    browser = archive.config.browser
    if not written:
        return Certified(hashes=hashes, notice="")
    if not browser.enabled:
        return Certified(hashes=hashes, notice="the capture certificates were not printed to "
                         "PDF: [browser] enabled = false (certificate.html holds the same)")
    executable = archive.chromium()
    if executable is None:
        return Certified(hashes=hashes, notice="the capture certificates were not printed to "
                         "PDF: Chromium not found ([browser] executable = "
                         f"{browser.executable!r}); install Debian's chromium package "
                         "(certificate.html holds the same)")
    made = 0
    try:
        async with Printer(executable=executable, timeout=browser.timeout) as printer:
            for w in written:
                pdf = await printer.print(render(w, _embedded(staging, w)))
                hashes[w.capture_id][layout.CERTIFICATE_PDF] = _put(
                    staging, w.folder + layout.CERTIFICATE_PDF, pdf)
                made += 1
    except PrintFailed as exc:
        return Certified(hashes=hashes, notice=(
            f"{len(written) - made} of {len(written)} capture certificates were not printed to "
            f"PDF: {exc} (certificate.html holds the same)"))
    return Certified(hashes=hashes, notice="")
