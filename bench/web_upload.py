"""Uploads through `preserver web` are streamed: the web server's memory does not grow
with the upload, and the upload runs near the speed of writing the file to disk.

    .venv/bin/python bench/web_upload.py [--mb 200]

Starts `preserver web` (a process of its own) on a fresh archive with `[web] max_upload`
just above ``--mb`` MiB, signs in as an archivist and uploads, with httpx streaming from
disk, a file of ``--mb`` MiB that is received whole and then refused as not a report (a
PNG signature, then random bytes): what is measured is the receiving. Then a file of
twice that, refused with 413 once it passes the bound. It prints the upload's MiB/s
beside two baselines: the same multipart POST, from the same client, to an ASGI app on
the same uvicorn that only counts the bytes (what any upload through uvicorn costs), and
copying the file on the same disk (``shutil.copyfile``); and the growth of the web
server's peak RSS (``VmHWM``, reset before each upload) beside the upload's size (a server that held the body
would grow by at least that).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

PASSWORD = "correct horse battery staple"
MiB = 1 << 20


def _kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(rf"{field}:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


def _reset_peak(pid: int) -> int:
    """Reset the process's peak RSS to its RSS now (signing in ran argon2, whose memory
    would hide the upload's); returns that RSS in KiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _kib(pid, "VmRSS")


def _file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        left = size - 8
        while left > 0:
            n = min(left, 8 * MiB)
            out.write(os.urandom(n))
            left -= n
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# the baseline server: uvicorn (h11, as `preserver web` runs it) with an app that reads and
# drops every byte of the body
_DISCARD = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    n = 0
    while True:
        message = await receive()
        n += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(n).encode()})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _started(client: httpx.Client, path: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return client.get(path)
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def _discard_seconds(path: Path) -> float:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", _DISCARD, str(port)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            _started(client, "/")
            code, seconds = _upload(client, "x", path)
            assert code == 200
            return seconds
    finally:
        server.terminate()
        server.wait(30)


def _cli(config: Path, *args: str, stdin: bytes = b"") -> None:
    subprocess.run([sys.executable, "-m", "preserver", "--config", str(config), *args],
                   input=stdin, check=True, capture_output=True)


def _upload(client: httpx.Client, csrf: str, path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with path.open("rb") as fh:
        response = client.post("/upload", data={"csrf": csrf},
                               files={"report": (path.name, fh, "application/octet-stream")})
    return response.status_code, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    size = args.mb * MiB
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        root = Path(tmp)
        config = root / "config.toml"
        config.write_text(f'data_dir = "archive"\noperator = "bench"\n[web]\n'
                          f'max_upload = {size + MiB}\n', encoding="utf-8")
        _cli(config, "ingest", "-", stdin=b"https://example.org/a\n")
        _cli(config, "user", "add", "ana", "--role", "archivist", "--password-stdin",
             stdin=f"{PASSWORD}\n".encode())
        fits, over = _file(root / "fits.png", size), _file(root / "over.png", 2 * size)
        start = time.perf_counter()
        shutil.copyfile(fits, root / "copy.png")
        copy_seconds = time.perf_counter() - start
        (root / "copy.png").unlink()
        discard_seconds = _discard_seconds(fits)
        port = _free_port()
        web = subprocess.Popen([sys.executable, "-m", "preserver", "--config", str(config),
                                "web", "--port", str(port)], stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
                login = _started(client, "/login")
                token = re.search(r'name="csrf" value="([^"]+)"', login.text)
                assert token is not None
                client.post("/login", data={"csrf": token.group(1), "name": "ana",
                                            "password": PASSWORD})
                page = client.get("/upload")
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert csrf is not None
                idle = _reset_peak(web.pid)
                fits_code, fits_seconds = _upload(client, csrf.group(1), fits)
                fits_growth = _kib(web.pid, "VmHWM") - idle
                idle = _reset_peak(web.pid)
                over_code, over_seconds = _upload(client, csrf.group(1), over)
                over_growth = _kib(web.pid, "VmHWM") - idle
        finally:
            web.terminate()
            web.wait(30)
    mib = args.mb
    print(f"upload of {mib} MiB (received whole, refused {fits_code}): "
          f"{mib / fits_seconds:.0f} MiB/s")
    print(f"  the same POST to uvicorn dropping the bytes: {mib / discard_seconds:.0f} MiB/s "
          f"(ratio {discard_seconds / fits_seconds:.2f}); copying the file on the same "
          f"disk: {mib / copy_seconds:.0f} MiB/s (ratio {copy_seconds / fits_seconds:.2f})")
    print(f"  web server peak RSS growth: {fits_growth / 1024:.1f} MiB for a "
          f"{mib} MiB upload (ratio {fits_growth / 1024 / mib:.3f})")
    print(f"upload of {2 * mib} MiB over the bound (refused {over_code}) after "
          f"{over_seconds:.2f} s; peak RSS growth {over_growth / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
