"""Serving a 1 GiB file with HTTP Range (issue "web page for legal teams"): the memory of
``preserver web`` while it serves one archived 1 GiB video in 1 MiB ranges, in 64 MiB
ranges, whole (to httpx, and to curl), and whole to 4 clients at once, beside its memory at rest; and its
throughput beside reading the same blob from disk (``cat blob > /dev/null``, and a plain
1 MiB-chunk read in Python).

    .venv/bin/python bench/web_range.py [--mib 1024] [--rounds 1]

The archive is real: a fresh data directory in a temporary directory, the video (a real
2 s clip followed by zeros up to the size, a sparse file) captured from the local fixture
site by ``preserver preserve`` (browser off), a viewer token from ``preserver token
create``, and ``preserver web`` run as a process of its own. Every 20 ms a thread reads
``/proc/<pid>/status`` of that process (VmRSS); a phase's figure is its highest VmRSS
minus the VmRSS at rest (after one warm-up request). The client is httpx in this process
(the 2 cores are shared by client and server: the throughput is a floor). Every 64th
1 MiB range and every 64 MiB range is compared with the blob's bytes on disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fixture_site import FixtureSite, make_clip

MiB = 1 << 20
CONFIG = ('data_dir = "archive"\noperator = "bench"\n'
          '[capture]\nmax_bytes = "5GiB"\n'
          '[network]\nallow_networks = ["127.0.0.1/32"]\n'
          '[browser]\nenabled = false\n'
          '[collection]\nip_echo_url = ""\nntp_server = ""\n')


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class Sampler(threading.Thread):
    """The highest VmRSS of ``pid`` since the last ``reset``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, rss_kib(self.pid)[0])

    def reset(self) -> None:
        self.peak = rss_kib(self.pid)[0]


def make_video(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = make_clip(path.with_name("clip.mp4"), duration=2).read_bytes()
    with path.open("wb") as out:
        out.write(clip)
        out.truncate(size)
    return path


def cli(config: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "preserver", "--config", str(config), *args],
                          input=stdin, capture_output=True, text=True, check=False,
                          cwd=config.parent)
    if done.returncode != 0:
        raise SystemExit(f"preserver {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def fetch_ranges(client: httpx.Client, url: str, blob: Path, size: int, step: int) -> None:
    with blob.open("rb") as disk:
        for i, start in enumerate(range(0, size, step)):
            last = min(start + step, size) - 1
            got = client.get(url, headers={"Range": f"bytes={start}-{last}"})
            assert got.status_code == 206, got.status_code
            assert len(got.content) == last - start + 1
            if step > MiB or i % 64 == 0:
                disk.seek(start)
                assert got.content == disk.read(last - start + 1), f"bytes {start}-{last}"


def fetch_whole(client: httpx.Client, url: str, size: int) -> None:
    received = 0
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw(MiB):
            received += len(chunk)
    assert received == size, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the file, in MiB")
    args = parser.parse_args()
    size = args.mib * MiB
    with tempfile.TemporaryDirectory(prefix="bench-web-range-") as tmp:
        root = Path(tmp)
        video = make_video(root / "site" / "big.mp4", size)
        site = FixtureSite.start()
        try:
            link = site.add_large("/videos/big.mp4", video, "video/mp4")
            config = root / "config.toml"
            config.write_text(CONFIG, encoding="utf-8")
            (root / "report.txt").write_text(f"1- video\n{link}\n", encoding="utf-8")
            start = time.perf_counter()
            cli(config, "preserve", str(root / "report.txt"))
            print(f"captured {args.mib} MiB in {time.perf_counter() - start:.1f} s")
        finally:
            site.close()
        (item,) = json.loads(cli(config, "links", "--json"))
        media = next(f for c in item["captures"] for f in c["files"] if f["role"] == "media")
        sha = media["sha256"]
        assert media["size"] == size
        blob = root / "archive" / "blobs" / "sha256" / sha[:2] / sha[2:4] / sha
        token = cli(config, "token", "create", "--role", "viewer", "--label", "bench").strip()
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "preserver", "--config", str(config),
                                   "web", "--port", str(port)], cwd=root,
                                  stderr=subprocess.PIPE, text=True)
        try:
            run(server.pid, f"http://127.0.0.1:{port}", token, sha, blob, size, args.mib)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(pid: int, base: str, token: str, sha: str, blob: Path, size: int, mib: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/files/{sha}"
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/api/me").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("preserver web did not start")
            time.sleep(0.1)
        client.get(url, headers={"Range": "bytes=0-0"})  # warm up: imports, thread pool
        time.sleep(0.5)
        rest, rest_hwm = rss_kib(pid)
        sampler = Sampler(pid)
        sampler.reset()
        sampler.start()
        # baselines: the blob read from disk (page cache, after a first read)
        subprocess.run(["cat", str(blob)], stdout=subprocess.DEVNULL, check=True)
        cat_s = timed(lambda: subprocess.run(["cat", str(blob)], stdout=subprocess.DEVNULL,
                                             check=True))

        def plain_read() -> None:
            with blob.open("rb") as f:
                while f.read(MiB):
                    pass

        read_s = timed(plain_read)
        rows = []
        phases = [
            ("1 MiB ranges", lambda: fetch_ranges(client, url, blob, size, MiB)),
            ("64 MiB ranges", lambda: fetch_ranges(client, url, blob, size, 64 * MiB)),
            ("whole file", lambda: fetch_whole(client, url, size)),
            ("whole file, curl as the client", lambda: subprocess.run(
                ["curl", "-sSf", "-o", "/dev/null", "-H", f"Authorization: Bearer {token}",
                 base + url], check=True)),
        ]
        for name, phase in phases:
            sampler.reset()
            seconds = timed(phase)
            rows.append((name, mib, seconds, sampler.peak - rest))

        def four() -> None:
            with ThreadPoolExecutor(4) as pool:
                clients = [httpx.Client(base_url=base, headers=headers, timeout=120)
                           for _ in range(4)]
                try:
                    list(pool.map(lambda c: fetch_whole(c, url, size), clients))
                finally:
                    for c in clients:
                        c.close()

        sampler.reset()
        seconds = timed(four)
        rows.append(("whole file, 4 clients at once", 4 * mib, seconds, sampler.peak - rest))
        sampler.stopped.set()
        _, hwm = rss_kib(pid)
    digest = hashlib.sha256()
    with blob.open("rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    assert digest.hexdigest() == sha
    print(f"preserver web serving one {mib} MiB archived video (local store); RSS at rest "
          f"{rest / 1024:.1f} MiB (VmHWM {rest_hwm / 1024:.1f} MiB, from starting), "
          f"VmHWM at the end {hwm / 1024:.1f} MiB")
    print(f"  {'':32} {'MiB':>6} {'wall':>8} {'MiB/s':>8} {'RSS growth':>11} {'growth/size':>12}")
    for name, moved, seconds, growth in rows:
        print(f"  {name:32} {moved:6d} {seconds:6.2f} s {moved / seconds:8.0f} "
              f"{growth / 1024:8.1f} MiB {growth / 1024 / moved:12.4f}")
    print(f"  {'baseline: cat blob > /dev/null':32} {mib:6d} {cat_s:6.2f} s {mib / cat_s:8.0f}")
    print(f"  {'baseline: Python 1 MiB reads':32} {mib:6d} {read_s:6.2f} s {mib / read_s:8.0f}")
    for name, _moved, whole_s, _growth in rows[2:4]:
        print(f"  {name} vs cat: {cat_s / whole_s:.2f}x the throughput; "
              f"vs Python reads: {read_s / whole_s:.2f}x")


if __name__ == "__main__":
    main()
