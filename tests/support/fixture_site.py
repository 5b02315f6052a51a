"""A fixture video site on 127.0.0.1 for offline tests.

Serves real media made with ffmpeg (or any bytes) through ``http.server``, so
the real yt-dlp (generic and html5 extractors) and real httpx talk to it over
real sockets. Routes are registered per test; ``standard_routes`` installs the
set the end-to-end tests use.

    site = FixtureSite.start()
    site.add_bytes("/clip.mp4", data, "video/mp4")
    site.url("/clip.mp4")  -> "http://127.0.0.1:PORT/clip.mp4"

``FixtureSite.start(tls=context)`` serves https instead (``tests/support/tls.py``
makes the test CA and the server's context).
"""

from __future__ import annotations

import hashlib
import html
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Hit:
    path: str
    method: str
    headers: dict[str, str]
    body: bytes = b""
    client: str = ""  # the client's address: 127.0.0.2 when through tests/support/proxy.py


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        site = self.server.site
        length = int(self.headers.get("Content-Length") or 0) if self.command == "POST" else 0
        body = self.rfile.read(min(length, 1 << 20)) if length else b""
        site.hits.append(Hit(path=self.path, method=self.command, headers=dict(self.headers),
                             body=body, client=self.client_address[0]))
        handler = site.routes.get(path)
        if handler is None:
            send(self, 404, b"<html><body>Not Found</body></html>", "text/html")
            return
        handler(self)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: FixtureSite

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (yt-dlp probing a media URL, a killed
        # capture) are normal here, not errors worth a traceback.
        # A client that refuses our certificate ends the handshake: that is what
        # the https tests ask of it.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def send(
    req: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Write one complete response (HEAD gets the headers only)."""
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    req.send_header("Last-Modified", "Sun, 16 Aug 2015 11:40:00 GMT")
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.end_headers()
    if req.command != "HEAD":
        req.wfile.write(body)


@dataclass
class FixtureSite:
    server: _Server
    thread: threading.Thread
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    scheme: str = "http"

    @classmethod
    def start(cls, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> FixtureSite:
        server = _Server((host, 0), _RequestHandler)
        if tls is not None:  # the handshake runs in the request's thread, on first read
            server.socket = tls.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # close() waits one poll interval at most
            name="fixture-site",
            daemon=True,
        )
        site = cls(server=server, thread=thread, scheme="https" if tls is not None else "http")
        server.site = site
        thread.start()
        return site

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- route builders -------------------------------------------------------------

    def add(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def add_bytes(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        return self.add(path, lambda req: send(req, status, body, content_type, headers))

    def add_file(self, path: str, file: Path, content_type: str) -> str:
        return self.add_bytes(path, file.read_bytes(), content_type)

    def add_large(self, path: str, file: Path, content_type: str) -> str:
        """Serve ``file`` from disk in 1 MiB reads: a body of any size (a 4 GB capture)
        without holding it in memory. The file is opened per request, so it may be
        replaced between requests but must not change during one."""

        def handler(req: BaseHTTPRequestHandler) -> None:
            size = file.stat().st_size
            req.send_response(200)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(size))
            req.send_header("Last-Modified", "Sun, 16 Aug 2015 11:40:00 GMT")
            req.end_headers()
            if req.command == "HEAD":
                return
            with file.open("rb") as body:
                while chunk := body.read(1 << 20):
                    req.wfile.write(chunk)

        return self.add(path, handler)

    def add_redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.add(path, lambda req: send(req, status, b"", "text/plain", {"Location": location}))

    def add_echo(self, path: str = "/ip") -> str:
        """An IP echo service, as checkip.amazonaws.com: the caller's address in plain text."""
        return self.add(path, lambda req: send(req, 200, f"{req.client_address[0]}\n".encode(),
                                               "text/plain"))

    def add_slow(self, path: str, body: bytes, content_type: str, *, delay: float) -> str:
        """Headers at once, then the body trickles: one byte per ``delay`` seconds."""
        return self.add_trickle(path, body, content_type, pieces=len(body), pause=delay)

    def add_trickle(self, path: str, body: bytes, content_type: str = "video/mp4", *,
                    pieces: int = 8, pause: float = 0.08) -> str:
        """``body`` in ``pieces`` with ``pause`` seconds after each: a capture of it takes
        a while, so a kill or a deadline finds it mid-download."""
        size = max(1, -(-len(body) // max(1, pieces)))

        def handler(req: BaseHTTPRequestHandler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            if req.command == "HEAD":
                return
            try:
                for i in range(0, len(body), size):
                    req.wfile.write(body[i:i + size])
                    req.wfile.flush()
                    time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                pass

        return self.add(path, handler)

    def add_endless(self, path: str, content_type: str, *, declared: int | None = None) -> str:
        """A body far larger than any limit: streams zeros until the client hangs up."""

        def handler(req: BaseHTTPRequestHandler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", content_type)
            if declared is not None:
                req.send_header("Content-Length", str(declared))
            else:
                req.send_header("Connection", "close")
            req.end_headers()
            if req.command == "HEAD":
                return
            chunk = b"\0" * 65536
            try:
                for _ in range(16 * 1024):  # at most 1 GiB, then stop by itself
                    req.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        return self.add(path, handler)


# -- media made with ffmpeg ------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    """Small real media files, made once per test session."""

    mp4: Path  # 2 s testsrc + sine, H.264/AAC
    mp4_b: Path  # a second, different clip
    jpg: Path
    vtt: Path

    def sha256(self, name: str) -> str:
        return hashlib.sha256(getattr(self, name).read_bytes()).hexdigest()


def make_clip(out: Path, *, freq: int = 440, pattern: str = "testsrc", duration: int = 2,
              size: str = "160x120", rate: int = 10) -> Path:
    """A small real video (160x120, 10 fps, H.264 + AAC sine tone) made with ffmpeg.

    Different ``freq``/``pattern`` give different bytes, so clips never deduplicate;
    ``size`` and ``rate`` make a larger one (640x480 at 25 fps: about 290 KB a second).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [_ffmpeg(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"{pattern}=size={size}:rate={rate}:duration={duration}",
         "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={duration}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "32k", "-shortest", "-movflags", "+faststart", str(out)],
        check=True,
    )
    return out


def make_media(directory: Path) -> Media:
    directory.mkdir(parents=True, exist_ok=True)
    mp4 = make_clip(directory / "clip.mp4", freq=440, pattern="testsrc")
    mp4_b = make_clip(directory / "clip-b.mp4", freq=660, pattern="testsrc2")
    jpg = directory / "thumb.jpg"
    subprocess.run(
        [_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:duration=1",
         "-frames:v", "1", str(jpg)],
        check=True,
    )
    vtt = directory / "subs.ar.vtt"
    vtt.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nسوق دوما بعد الغارة\n", encoding="utf-8"
    )
    return Media(mp4=mp4, mp4_b=mp4_b, jpg=jpg, vtt=vtt)


# -- streaming formats and pages (media worker tests) ------------------------------------

_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t", ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment", ".bin": "application/octet-stream", ".mp4": "video/mp4", ".jpg": "image/jpeg", ".vtt": "text/vtt",
}


def add_directory(site: FixtureSite, prefix: str, directory: Path) -> dict[str, str]:
    """Serve every file of ``directory`` under ``prefix``; returns {name: url}."""
    urls = {}
    for file in sorted(directory.iterdir()):
        ctype = _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        urls[file.name] = site.add_file(f"{prefix.rstrip('/')}/{file.name}", file, ctype)
    return urls


def make_hls(source: Path, directory: Path, *, fmp4: bool = False, key: bytes | None = None) -> Path:
    """A VOD HLS rendition of ``source`` (keyframe every 0.5 s, so several segments).

    Returns the playlist ``index.m3u8``; segments are ``seg<N>.ts`` beside it. With
    ``fmp4`` they are fragmented MP4 (``seg<N>.m4s``) after an init segment
    ``init.mp4`` (``EXT-X-MAP``); with a 16-byte ``key`` they are AES-128 encrypted
    under ``key.bin`` (``EXT-X-KEY``), which is written beside them.
    """
    directory.mkdir(parents=True, exist_ok=True)
    playlist = directory / "index.m3u8"
    extra: list[str] = []
    segment = "seg%d.ts"
    if fmp4:
        extra += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"]
        segment = "seg%d.m4s"
    if key is not None:
        (directory / "key.bin").write_bytes(key)
        info = directory / "key.info"  # URI in the playlist, then the key file ffmpeg reads
        info.write_text(f"key.bin\n{directory / 'key.bin'}\n", encoding="utf-8")
        extra += ["-hls_key_info_file", str(info)]
    subprocess.run(
        [_ffmpeg(), "-v", "error", "-y", "-i", str(source),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-c:a", "aac", "-b:a", "32k",
         "-f", "hls", "-hls_time", "0.5", "-hls_playlist_type", "vod", *extra,
         "-hls_segment_filename", str(directory / segment), str(playlist)],
        check=True,
    )
    if key is not None:
        (directory / "key.info").unlink()
    return playlist


def make_dash(source: Path, directory: Path) -> Path:
    """A static DASH rendition of ``source``: separate video and audio representations.

    Returns ``manifest.mpd``; init and media segments (``*.m4s``) are beside it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "manifest.mpd"
    subprocess.run(
        [_ffmpeg(), "-v", "error", "-y", "-i", str(source), "-map", "0:v", "-map", "0:a",
         "-c", "copy", "-f", "dash", "-seg_duration", "1", "-use_template", "1",
         "-use_timeline", "1", str(manifest)],
        check=True,
    )
    return manifest


def _ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the fixture site needs ffmpeg (apt-get install ffmpeg)")
    return ffmpeg


def html_page(*, title: str = "Fixture page", head: str = "", body: str = "") -> bytes:
    """A minimal UTF-8 HTML page (``title`` is escaped; ``head``/``body`` are raw HTML)."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>{head}</head>\n<body>{body}</body></html>\n"
    ).encode()


def video_tag_page(
    video_url: str, *, poster: str | None = None, tracks: dict[str, str] | None = None,
    title: str = "Video tag page",
) -> bytes:
    """A page with one ``<video>``: optional poster and ``<track>``s ({srclang: url})."""
    poster_attr = f' poster="{html.escape(poster)}"' if poster else ""
    track_tags = "".join(
        f'<track kind="subtitles" srclang="{html.escape(lang)}" src="{html.escape(url)}">'
        for lang, url in (tracks or {}).items()
    )
    body = f'<video controls src="{html.escape(video_url)}"{poster_attr}>{track_tags}</video>'
    head = f'<meta property="og:image" content="{html.escape(poster)}">' if poster else ""
    return html_page(title=title, head=head, body=body)


def og_video_page(video_url: str, *, title: str, image: str | None = None) -> bytes:
    """A page announcing its video only through Open Graph tags."""
    head = (
        f'<meta property="og:title" content="{html.escape(title)}">'
        f'<meta property="og:video" content="{html.escape(video_url)}">'
        '<meta property="og:video:type" content="video/mp4">'
    )
    if image:
        head += f'<meta property="og:image" content="{html.escape(image)}">'
    return html_page(title=title, head=head, body="<p>A post with a video.</p>")
