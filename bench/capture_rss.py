"""Peak memory of one 4 GB capture (issue 12): `preserver preserve` of one link to a
4 GB video on the local fixture site, the peak resident set (VmHWM) of each process
printed beside the target of 150 MB a process.

    .venv/bin/python bench/capture_rss.py [--gb 4] [--browser]

Every 50 ms the bench reads ``/proc/<pid>/status`` of the preserver process and all its
descendants: the parent (the run loop, the page snapshot, the store's rename), the
forkserver, the capture child (yt-dlp, hashing as it writes), and anything they start.
A process's VmHWM is its own high-water mark, so a sample after the peak still sees it.

The video is a real 2 s clip followed by zeros up to the size, as a sparse file the
site serves from disk in 1 MiB reads; preserver's ``[capture] max_bytes`` is raised to
5 GiB for this run (the default, 2 GiB, would refuse it) and the browser is off unless
``--browser`` (Chromium's memory is not the capture's; its own cap is ``[browser]
max_bytes``). Everything is written under a temporary directory removed at the end
(about 2 x the size on disk at the peak: the download, then the blob).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fixture_site import FixtureSite, make_clip

TARGET_MB = 150
CONFIG = ('data_dir = "archive"\noperator = "bench"\n'
          '[capture]\nmax_bytes = "5GiB"\n'
          '[network]\nallow_networks = ["127.0.0.1/32"]\n'
          '[collection]\nip_echo_url = ""\nntp_server = ""\n')


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            ppid = _status(int(name)).get("PPid")
            if ppid is not None:
                tree.setdefault(int(ppid), []).append(int(name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


class Sampler:
    """Peak VmHWM (kB) of every process under ``root``, with a name for each."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peaks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            tree = _children()
            todo, depth = [(self.root, 0)], {self.root: 0}
            while todo:
                pid, d = todo.pop()
                hwm = _status(pid).get("VmHWM", "0 kB").split()[0]
                self.peaks[pid] = max(self.peaks.get(pid, 0), int(hwm))
                self.names.setdefault(pid, self._name(pid, d))
                for child in tree.get(pid, []):
                    depth[child] = d + 1
                    todo.append((child, d + 1))

    def _name(self, pid: int, depth: int) -> str:
        cmd = _cmdline(pid)
        if depth == 0:
            return "preserver (parent)"
        if "forkserver" in cmd and depth == 1:
            return "forkserver"
        if depth == 2 and "python" in cmd:
            return "capture child (yt-dlp)"
        return _status(pid).get("Name", "?")


def make_video(path: Path, size: int) -> Path:
    clip = make_clip(path.with_name("clip.mp4"), duration=2).read_bytes()
    with path.open("wb") as out:
        out.write(clip)
        out.truncate(size)  # the rest is a hole: zeros, no disk
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=4.0, help="size of the video, in GB (10^9)")
    parser.add_argument("--browser", action="store_true", help="leave the browser on")
    args = parser.parse_args()
    size = int(args.gb * 1e9)
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        root = Path(tmp)
        video = make_video(root / "site" / "big.mp4", size)
        site = FixtureSite.start()
        try:
            url = site.add_large("/videos/big.mp4", video, "video/mp4")
            (root / "report.txt").write_text(f"1- video\n{url}\n", encoding="utf-8")
            config = root / "config.toml"
            config.write_text(CONFIG + ("" if args.browser else "[browser]\nenabled = false\n"),
                              encoding="utf-8")
            start = time.perf_counter()
            proc = subprocess.Popen([str(bindir / "preserver"), "--config", str(config),
                                     "preserve", str(root / "report.txt")], cwd=root,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            sampler = Sampler(proc.pid)
            thread = threading.Thread(target=sampler.run, daemon=True)
            thread.start()
            out, err = proc.communicate()
            sampler.stopped.set()
            thread.join()
            seconds = time.perf_counter() - start
        finally:
            site.close()
        if proc.returncode != 0 or "1 captured" not in err + out:
            raise SystemExit(f"preserver failed (exit {proc.returncode}):\n{out}\n{err}")
    print(f"one capture of a {size / 1e9:.2f} GB video in {seconds:.1f} s "
          f"({size / 1e6 / seconds:.0f} MB/s), browser {'on' if args.browser else 'off'}")
    print(f"  {'process':28} {'peak RSS':>10}   target < {TARGET_MB} MB")
    for pid, kb in sorted(sampler.peaks.items(), key=lambda p: -p[1]):
        if kb:
            mb = kb / 1024
            verdict = "ok" if mb < TARGET_MB else "OVER"
            print(f"  {sampler.names[pid]:28} {mb:8.1f} MB   {verdict}")


if __name__ == "__main__":
    main()
