"""A Save Page Now 2 endpoint on 127.0.0.1 for offline tests (the Internet Archive's own
server cannot be reached from tests).

It speaks the SPN2 API shape: ``POST /save`` (form ``url``, ``if_not_archived_within``;
``Accept: application/json``; ``Authorization: LOW <access>:<secret>``) answers
``{"url", "job_id"}``; ``GET /save/status/<job_id>`` answers ``pending`` for
``pending_polls`` polls, then ``success`` with a timestamp. It checks the
Authorization header (401 otherwise) and records every submission. ``mode`` makes it
misbehave:

    spn = FixtureSpn.start(access="AK", secret="S3CRET")
    spn.mode = "outage"     # 503; "rate_limited": 429 Retry-After; "garbage": 200 junk;
                            # "html": an HTML page; "huge": an endless body;
                            # "error": status error; "pending": pending forever;
                            # "redirect_private": 302 to 169.254.169.254
    spn.submissions          # [{"url": ..., "if_not_archived_within": ...}, ...]
    spn.close()
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TIMESTAMP = "20261126183000"


@dataclass(kw_only=True)
class FixtureSpn:
    access: str
    secret: str
    server: ThreadingHTTPServer
    mode: str = "ok"
    pending_polls: int = 1
    status_ext: str = "error:service-unavailable"
    retry_after: str = "7"
    submissions: list[dict[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base + "/save"

    @classmethod
    def start(cls, *, access: str = "AKEY", secret: str = "S3CRET-VALUE") -> FixtureSpn:
        spn: FixtureSpn

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                spn.handle(self, "POST")

            def do_GET(self) -> None:
                spn.handle(self, "GET")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        spn = cls(access=access, secret=secret, server=server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return spn

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _send(self, h: BaseHTTPRequestHandler, code: int, body: bytes | dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        h.send_response(code)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        with self.lock:
            self.requests.append((method, h.path, dict(h.headers.items())))
        length = int(h.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(h.rfile.read(length).decode())) if length else {}
        if h.headers.get("Authorization") != f"LOW {self.access}:{self.secret}":
            self._send(h, 401, {"message": "You need to be logged in to use Save Page Now."})
            return
        if self.mode == "outage":
            self._send(h, 503, b"<html>Service Unavailable</html>")
        elif self.mode == "rate_limited":
            self._send(h, 429, b"Too Many Requests", {"Retry-After": self.retry_after})
        elif self.mode == "garbage":
            self._send(h, 200, b"{not json")
        elif self.mode == "html":
            self._send(h, 200, b"<!DOCTYPE html><html><body>Save Page Now</body></html>")
        elif self.mode == "huge":
            self._send(h, 200, b"[" + b" " * (2 << 20) + b"]")
        elif self.mode == "redirect_private":
            self._send(h, 302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        elif method == "POST" and h.path == "/save":
            self._save(h, form)
        elif method == "GET" and h.path.startswith("/save/status/"):
            self._status(h, h.path.rsplit("/", 1)[1])
        else:
            self._send(h, 404, {"message": "not found"})

    def _save(self, h: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        with self.lock:
            self.submissions.append(form)
            job_id = f"spn2-{len(self.submissions):04d}"
            self.polls[job_id] = 0
        self._send(h, 200, {"url": form.get("url", ""), "job_id": job_id})

    def _status(self, h: BaseHTTPRequestHandler, job_id: str) -> None:
        with self.lock:
            if job_id not in self.polls:
                self._send(h, 200, {"status": "error", "status_ext": "error:not-found",
                                    "message": "no such job"})
                return
            self.polls[job_id] += 1
            polls = self.polls[job_id]
            url = self.submissions[int(job_id.rsplit("-", 1)[1]) - 1].get("url", "")
        if self.mode == "pending" or polls <= self.pending_polls:
            self._send(h, 200, {"status": "pending", "job_id": job_id})
        elif self.mode == "error":
            self._send(h, 200, {"status": "error", "status_ext": self.status_ext,
                                "message": "The server is busy.", "job_id": job_id})
        else:
            self._send(h, 200, {"status": "success", "job_id": job_id, "timestamp": TIMESTAMP,
                                "original_url": url, "duration_sec": 1.5})
