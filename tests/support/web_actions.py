"""What the tests of the archivists' web actions share: what an archive holds on disk and
in its database (to show that a refused request wrote nothing), its custody events, an
upload as a browser sends it, and waiting for a run started from the web.

    before = written(data_dir)
    response = upload(client, "report.txt", b"https://example.org/a\\n", csrf=token)
    assert written(data_dir) == before
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest


@dataclass(frozen=True, kw_only=True)
class Written:
    reports: int  # rows of the reports table
    events: int  # custody events
    blobs: tuple[str, ...]  # every path under blobs/
    tmp: tuple[str, ...]  # every path under tmp/


def _query(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{data_dir / 'preserver.db'}?mode=ro", uri=True)) as db:
        return db.execute(sql, params).fetchall()


def _listing(root: Path) -> tuple[str, ...]:
    return tuple(sorted(str(p.relative_to(root)) for p in root.rglob("*")))


def written(data_dir: Path) -> Written:
    """What the archive at ``data_dir`` holds now, once the work directories of packages
    already sent are gone: a download's directory is removed just after its last byte
    reached the client, so the next test may look a moment before (up to 10 s here)."""
    deadline = time.monotonic() + 10
    while any((data_dir / "tmp").glob("package-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    return Written(reports=_query(data_dir, "SELECT count(*) FROM reports")[0][0],
                   events=_query(data_dir, "SELECT count(*) FROM events")[0][0],
                   blobs=_listing(data_dir / "blobs"), tmp=_listing(data_dir / "tmp"))


def events(data_dir: Path, action: str) -> list[dict[str, Any]]:
    """The custody events of ``action``, their bodies as JSON, oldest first."""
    return [json.loads(body) for (body,) in _query(
        data_dir, "SELECT body FROM events WHERE action = ? ORDER BY id", (action,))]


def report_names(data_dir: Path) -> list[str]:
    return [name for (name,) in _query(data_dir, "SELECT name FROM reports ORDER BY id")]


def upload(client: httpx.Client, name: str, data: bytes, *, csrf: str | None,
           path: str = "/upload", field: str = "report",
           headers: dict[str, str] | None = None) -> httpx.Response:
    """POST ``data`` as the file ``name`` of a multipart form, with ``csrf`` first."""
    fields = {"csrf": csrf} if csrf is not None else {}
    return client.post(path, data=fields, files={field: (name, data, "text/plain")},
                       headers=headers)


def multipart_body(parts: Sequence[tuple[str, str | None, bytes]], boundary: str = "xyzBOUNDARY"
                   ) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body by hand: ``(field, filename or None, bytes)`` each;
    returns the body and its Content-Type header."""
    out = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (
            f'; filename="{filename}"' if filename is not None else "")
        out += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").encode() + \
            data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def wait_for_run(client: httpx.Client, run_id: str, *, timeout: float = 180) -> dict[str, Any]:
    """``GET /api/runs/{id}`` until the run is no longer running; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        if found["run"]["status"] != "running":
            return found
        assert time.monotonic() < deadline, f"run {run_id} still running: {found}"
        time.sleep(0.2)


def _holders(path: Path) -> list[str]:
    """What under ``path`` each process holds open, maps or works in (for the message)."""
    def links(proc: Path) -> list[str]:
        found = []
        for link in [proc / "cwd", *(proc / "fd").iterdir()]:
            try:
                found.append(os.readlink(link))
            except OSError:  # gone meanwhile
                continue
        found += [line.split()[-1] for line in (proc / "maps").read_text().splitlines()
                  if len(line.split()) >= 6]
        return [x for x in found if x.startswith(str(path))]

    held = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (inside := links(proc)):
                held.append(f"{proc.name} {(proc / 'cmdline').read_bytes()[:100]!r}: {inside[:3]}")
        except OSError:
            continue
    return held


@contextmanager
def full_disk(path: Path, size: str = "64k") -> Iterator[None]:
    """``path`` (a directory, made if missing) on a tmpfs of ``size`` for the block: a real
    ENOSPC for what is written there. Skips the test where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield
    finally:
        # a blob store holds its tmp/ open while it lives (storage._stale): one this
        # process no longer uses is closed once collected; a child may take a moment to go
        deadline = time.monotonic() + 15
        while gc.collect() >= 0 and subprocess.run(["umount", str(path)], capture_output=True,
                                                   check=False).returncode != 0:
            assert time.monotonic() < deadline, f"{path} stays busy: {_holders(path)}"
            time.sleep(0.1)
