"""A capture certificate: one capture told to a reader who is not a technician
(docs/design.md "Evidence package"), as one self-contained HTML page.

It is written beside each capture in an exported package as ``certificate.html``,
and printed by Chromium to ``certificate.pdf`` (``preserver.export.certify``). It
states the target, this report's citations of it, the capture, every file with its
SHA-256 and size, the signed manifest's and signature's SHA-256 and the key, the
collection record, the screenshot, and how to check each of these with standard
tools. It is a reading aid made at export: the evidence is the signed manifest and
the files, and the certificate's own SHA-256 is in the signed package index.

Everything in it that comes from a report, a platform or a manifest is escaped, and
bidi embedding, override and isolate controls and other control characters are shown
as ``[U+202E]`` instead of acting on the page; each value is its own bidi island
(``<bdi>``, ``dir="auto"``) so Arabic and English read right side by side. The page
runs no script and loads nothing (its Content-Security-Policy allows only its own
style and images from ``data:`` URIs or the package's own files).
"""

from __future__ import annotations

import base64
import html
import json
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from manifests import CaptureManifest, JsonValue, ManifestFile
from manifests import package_layout as layout
from preserver.version import __version__
from workers import seen_as

MAX_EMBEDDED = 8 << 20  # the largest screenshot the PDF carries inside itself, in bytes
_MAX_DEPTH = 8  # nested tables of the collection record and metadata; deeper is JSON text
_MAX_TEXT = 4000  # characters of one value shown; the manifest holds the rest
_PNG = b"\x89PNG\r\n\x1a\n"
# bidi embeddings, overrides, isolates and the Arabic letter mark act on the text around
# them; C0 and C1 controls have no glyph. Marks (LRM, RLM) only nudge and are kept.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u202a-\u202e\u2066-\u2069]")
_UP = "../" * 3  # from data/captures/<target>/<capture id>/ to data/

_STYLE = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-center { content: "Capture certificate " counter(page) " / " counter(pages);
                   font: 8pt "DejaVu Sans", sans-serif; color: #555; } }
body { font: 10pt/1.4 "DejaVu Sans", "Noto Sans", "Noto Sans Arabic", sans-serif;
       color: #111; max-width: 60em; margin: 1em auto; padding: 0 1em; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 12pt; margin: 1.2em 0 .4em;
  border-bottom: 1px solid #999; break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: .3em 0; }
th, td { border: 1px solid #bbb; padding: .2em .4em; vertical-align: top; text-align: start;
         overflow-wrap: anywhere; }
th { background: #eee; font-weight: bold; }
table.kv > tbody > tr > th { width: 11em; }
tr { break-inside: avoid; }
table.kv table.kv th { width: auto; }
code, pre, .hash { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; }
.hash { white-space: nowrap; }
pre { background: #f4f4f4; border: 1px solid #ccc; padding: .5em; white-space: pre-wrap;
      overflow-wrap: anywhere; break-inside: avoid; }
.note { color: #333; font-size: 9pt; }
img { max-width: 100%; border: 1px solid #999; }
"""


@dataclass(frozen=True, kw_only=True)
class Cited:
    """One citation of the target in the report: its line (and page, in a paged report),
    label and URL as written."""

    line: int
    label: str
    raw_url: str
    start_seconds: int | None = None
    page: int | None = None  # 1-based, in a paged report (PDF); None: the format has none


@dataclass(frozen=True, kw_only=True)
class Screenshot:
    """The capture's screenshot file. ``data`` is None for the HTML beside the file (it
    shows the file); for the PDF, the file's bytes (``b""`` when over ``MAX_EMBEDDED``)."""

    file: ManifestFile
    data: bytes | None = None


def screenshot_of(manifest: CaptureManifest) -> ManifestFile | None:
    """The capture's PNG screenshot (role ``screenshot``), if it has one."""
    return next((f for f in manifest.files
                 if f.role == "screenshot" and f.media_type == "image/png"), None)


def _visible(text: str) -> str:
    text = _HIDDEN.sub(lambda m: f"[U+{ord(m[0]):04X}]", text)
    if len(text) > _MAX_TEXT:
        text = f"{text[:_MAX_TEXT]}… ({len(text) - _MAX_TEXT} more characters)"
    return text


def _e(text: str) -> str:
    """Untrusted text as one escaped bidi island."""
    return f"<bdi>{html.escape(_visible(text))}</bdi>"


def _hash(sha256: str) -> str:
    return f'<span class="hash">{html.escape(sha256)}</span>'


def _size(size: int) -> str:
    units = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))
    human = next((f" ({size / n:.1f} {unit})" for n, unit in units if size >= n), "")
    return f"{size:,} bytes{human}"


def _widths(*percents: int) -> str:
    return "<colgroup>" + "".join(f'<col style="width:{p}%">' for p in percents) + "</colgroup>"


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    """A two-column table: English labels (trusted) and already rendered values."""
    return '<table class="kv">' + "".join(
        f'<tr><th>{label}</th><td dir="auto">{value}</td></tr>' for label, value in pairs
    ) + "</table>"


def json_html(value: JsonValue, depth: int = 0) -> str:
    """A JSON value as nested key/value tables; past ``_MAX_DEPTH`` levels, as JSON text."""
    if isinstance(value, dict):
        if not value:
            return "<code>{}</code>"
        if depth >= _MAX_DEPTH:
            return _e(json.dumps(value, ensure_ascii=False))
        return '<table class="kv">' + "".join(
            f'<tr><th dir="auto">{_e(str(k))}</th><td dir="auto">{json_html(v, depth + 1)}</td>'
            "</tr>" for k, v in value.items()) + "</table>"
    if isinstance(value, list):
        if not value or depth >= _MAX_DEPTH:
            return _e(json.dumps(value, ensure_ascii=False)) if value else "<code>[]</code>"
        return '<table class="kv">' + "".join(
            f'<tr><th>{i}</th><td dir="auto">{json_html(v, depth + 1)}</td></tr>'
            for i, v in enumerate(value)) + "</table>"
    if value is None or isinstance(value, bool):
        return f"<code>{'null' if value is None else str(value).lower()}</code>"
    return _e(str(value))


def _citations(cited: Sequence[Cited], report_name: str) -> str:
    if not cited:
        return f"<p>The report {_e(report_name)} cites this target under another link form.</p>"
    rows = "".join(
        f"<tr><td>{c.line}{'' if c.page is None else f' (page {c.page})'}</td>"
        f"<td dir=\"auto\">{_e(c.label)}</td><td>{_e(c.raw_url)}</td>"
        f"<td>{'' if c.start_seconds is None else f'{c.start_seconds} s'}</td></tr>"
        for c in cited)
    return (f"<table>{_widths(8, 42, 40, 10)}<tr><th>line</th><th>label (the evidence item)"
            f"</th><th>link as written</th><th>from</th></tr>{rows}</table>")


def _files(manifest: CaptureManifest) -> str:
    if not manifest.files:
        return "<p>This capture holds no files: its outcome says why.</p>"
    rows = "".join(
        f'<tr><td>{_e(f.role)}</td><td><code>{_e("files/" + f.name)}</code></td>'
        f"<td>{_e(f.media_type)}</td><td>{_size(f.size)}</td></tr>"
        f'<tr><td colspan="4">SHA-256 {_hash(f.sha256)}</td></tr>' for f in manifest.files)
    return (f"<table>{_widths(15, 47, 18, 20)}<tr><th>role</th><th>file</th><th>media type"
            f"</th><th>size</th></tr>{rows}</table>")


def _screenshot(shot: Screenshot | None) -> str:
    if shot is None:
        return "<p>This capture holds no screenshot.</p>"
    name = "files/" + shot.file.name
    href = html.escape(urllib.parse.quote(name), quote=True)
    said = f"<p>{_e(name)}, SHA-256 {_hash(shot.file.sha256)}, {_size(shot.file.size)}.</p>"
    if shot.data is None:  # the HTML beside the file: show the file itself
        return f'{said}<p><a href="{href}"><img src="{href}" alt="the screenshot"></a></p>'
    if shot.file.size > MAX_EMBEDDED or not shot.data.startswith(_PNG):
        why = (f"is larger than the {_size(MAX_EMBEDDED)} this PDF carries"
               if shot.file.size > MAX_EMBEDDED else "is not a PNG image")
        return f"{said}<p>The screenshot {why}: open the file itself.</p>"
    uri = "data:image/png;base64," + base64.b64encode(shot.data).decode("ascii")
    return f'{said}<p><img src="{uri}" alt="the screenshot"></p>'


def _checks(manifest: CaptureManifest, folder: str, manifest_sha256: str,
            signature_sha256: str, key_id: str) -> str:
    key = _UP + layout.PUBLIC_KEY.removeprefix("data/")
    listing = "\n".join([f"{manifest_sha256}  manifest.json",
                         f"{signature_sha256}  manifest.json.sig",
                         *(f"{f.sha256}  files/{f.name}" for f in manifest.files)])
    steps = [
        (("Go to this capture's folder, from the package's folder (the one holding "
          "<code>bagit.txt</code>):"),
         f"cd {folder}"),
        (("Each file has the SHA-256 this certificate states; every line must end in "
          "<code>OK</code>:"),
         f"sha256sum -c <<'END'\n{listing}\nEND"),
        (("The manifest, which lists those SHA-256 values, is signed by the archive's key "
          "(OpenSSL 3 prints <code>Signature Verified Successfully</code>):"),
         (f"openssl pkeyutl -verify -pubin -inkey {key} -rawin \\\n"
          "    -in manifest.json -sigfile manifest.json.sig")),
        ((f"That key is the archive's key {_hash(key_id)} (compare it with the id the archive "
          "publishes):"),
         f"openssl pkey -pubin -in {key} -outform DER | tail -c 32 | sha256sum"),
        (("The whole package: every file, signature and custody event, and with "
          "<code>--tsa-roots</code> naming the timestamp authorities you trust, the "
          "timestamps. It needs Python 3 with the <code>cryptography</code> package, prints "
          "one line per check, and exits 0 only when every check passed "
          "(<code>data/VERIFY.md</code> explains each step):"),
         f"cd {_UP}..\npython3 data/verify_package.py . --key-id {key_id}"),
    ]
    return "".join(f"<p>{i}. {text}</p><pre>{html.escape(_visible(command))}</pre>"
                   for i, (text, command) in enumerate(steps, 1))


def render_certificate(*, manifest: CaptureManifest, collection: JsonValue,
                       manifest_sha256: str, signature_sha256: str, key_id: str,
                       report_name: str, report_sha256: str, cited: Sequence[Cited],
                       folder: str, exported_at: str, screenshot: Screenshot | None) -> str:
    """The certificate of one capture as an HTML page. ``collection`` is the manifest's
    collection record (``None`` when it has none); ``folder`` is the capture's folder in
    the package (``data/captures/<target>/<capture id>/``)."""
    m, o, a = manifest, manifest.outcome, manifest.agent
    parts = [
        (f"<h1>Capture certificate</h1><p>Capture {_hash(m.capture_id)} of {_e(m.target.url)}"
         f", made at {_e(m.finished_at)} (UTC). This page was written on {_e(exported_at)} "
         f"by preserver {html.escape(__version__)} from the capture's signed manifest, for "
         "the evidence package of the report named below.</p>"),
        "<h2>Target</h2>" + _rows([
            ("key", _e(m.target.key)), ("URL", _e(m.target.url)),
            ("platform", _e(m.target.platform)), ("requested URL", _e(m.requested_url))]),
        f"<h2>Cited in the report</h2><p>{_e(report_name)}, SHA-256 "
        f"{_hash(report_sha256)}</p>" + _citations(cited, report_name),
        "<h2>Capture</h2>" + _rows([
            ("capture id", _hash(m.capture_id)), ("started (UTC)", _e(m.started_at)),
            ("finished (UTC)", _e(m.finished_at)), ("state", _e(o.state)),
            ("status", _e(o.status)), ("message", _e(o.message) if o.message else "none"),
            ("seen as", _e(seen_as(collection.get("access") if isinstance(collection, dict)
                                   else None))),
            ("operator", _e(a.operator) if a.operator else "not recorded"), ("host", _e(a.host)),
            ("software", _e(f"{a.software}; yt-dlp {a.yt_dlp}; Python {a.python}"))]),
        "<h2>Files</h2>" + _files(m),
        "<h2>Signed manifest</h2>" + _rows([
            ("manifest.json", "SHA-256 " + _hash(manifest_sha256)),
            ("manifest.json.sig", "SHA-256 " + _hash(signature_sha256) + " (Ed25519)"),
            ("signing key id", _hash(key_id)),
            ("in this package", _e(folder))]),
    ]
    if isinstance(collection, dict):
        parts.append("<h2>Collection record</h2><p class=\"note\">How the capture was "
                     "collected, as its signed manifest records it.</p>"
                     + json_html(collection))
    if m.metadata:
        parts.append("<h2>What the platform said</h2><p class=\"note\">The manifest's "
                     "metadata: the platform's own words, not checked by the archive.</p>"
                     + json_html(dict(m.metadata)))
    parts.append("<h2>Screenshot</h2>" + _screenshot(screenshot))
    parts.append("<h2>How to check this capture with standard tools</h2>"
                 + _checks(m, folder, manifest_sha256, signature_sha256, key_id))
    parts.append('<p class="note">This certificate is a reading aid. The evidence is the '
                 "signed manifest and the files it lists; the certificate's own SHA-256 is "
                 "listed in the package's signed index, <code>data/package.json</code>.</p>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src 'self' data:\">"
            f"<title>Capture certificate {html.escape(m.capture_id)}</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
