"""What hashing a large file in the browser costs: the real /check page of a real
`preserver web` (over a temp archive), in headless Chromium, hashing a file through its
file chooser, against `sha256sum` (and Python's hashlib) on the same file.

    .venv/bin/python bench/browser_hash.py [--mib 1024] [--runs 1]

The file is random bytes in a temp directory, read once before timing so that every
reader finds it in the page cache (the figure is the hashing, not the disk). Printed:

- the browser's time and MB/s (from choosing the file to the hash, as the page's worker
  measured it, and wall time until the archive's answer is on the page), beside
  `sha256sum`'s and hashlib's, as ratios;
- the page's responsiveness while it hashed: a `setInterval(…, 50 ms)` on the page
  records the longest gap between its ticks (50 ms when the page's thread is never busy),
  beside the longest gap of the same page idle for 5 s (what the machine's scheduling
  alone costs); for contrast, how long one 8 MiB chunk holds the thread when hashed on it;
- Chromium's memory: the peak PSS of all its processes while hashing, against before
  (the file is read a chunk at a time, so this should not grow with the file);
  `--slices` makes the worker read as it does where Blob.stream() has no BYOB reader.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Page, sync_playwright

from preserver.web.check import CHUNK_BYTES
from tests.support.cli import run_cli
from tests.support.web import PASSWORD, serve_web

_GAPS = """() => {
  const g = window.__gaps = {max: 0, ticks: 0, last: performance.now()};
  window.__gapTimer = setInterval(() => {
    const now = performance.now();
    g.max = Math.max(g.max, now - g.last);
    g.last = now;
    g.ticks++;
  }, 50);
}"""
_ON_THREAD = """async (size) => {
  const data = crypto.getRandomValues(new Uint8Array(65536));
  const chunk = new Uint8Array(size);
  for (let at = 0; at < chunk.length; at += data.length) chunk.set(data, at);
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    new Sha256().update(chunk).hex();
    times.push(performance.now() - t);
  }
  return Math.min(...times);
}"""


def _chromium_pss() -> dict[str, int]:
    """PSS in bytes of the Chromium processes under this one, summed by process type
    (browser, renderer, gpu-process, utility, zygote)."""
    found: dict[str, int] = {}
    todo, seen = [os.getpid()], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "chrom" in args.split(" ", 1)[0].rsplit("/", 1)[-1]:
                kind = next((a.split("=", 1)[1] for a in args.split() if a.startswith("--type=")),
                            "browser")
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        found[kind] = found.get(kind, 0) + int(line.split()[1]) * 1024
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(p) for p in (task / "children").read_text().split()]
        except (OSError, UnicodeDecodeError):
            continue
    return found


def _force_slices(page: Page) -> None:
    """Serve the page a worker that reads by File.slice, as where there is no BYOB reader."""
    source = (Path(__file__).resolve().parents[1] / "preserver/web/static/sha256-worker.js"
              ).read_text(encoding="utf-8")
    forced = source.replace("event.data.slices === true", "true")
    assert forced != source
    page.route("**/static/sha256-worker.js",
               lambda route: route.fulfill(body=forced, content_type="text/javascript"))


def _make_file(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as fh:
        for i in range(mib):
            fh.write(block[i % 256:] + block[:i % 256])  # every MiB different


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out.split()[0]


def _hashlib(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return time.perf_counter() - start, digest


def _browser_run(page: Page, path: Path) -> dict[str, float | str]:
    page.reload()
    page.evaluate(_GAPS)
    before = _chromium_pss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = _chromium_pss()
            if sum(now.values()) > sum(peak[0].values()):
                peak[0] = now
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    page.set_input_files("#check-file", str(path))
    page.wait_for_selector("#check-status[data-sha256]", timeout=3_600_000)
    sha = page.get_attribute("#check-status", "data-sha256") or ""
    page.wait_for_selector(f'#result[data-sha256="{sha}"]', timeout=60_000)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    gaps = page.evaluate("() => (clearInterval(window.__gapTimer), window.__gaps)")
    return {"sha256": sha, "worker_s": float(page.get_attribute("#check-status", "data-ms")
                                             or "nan") / 1000,
            "via": page.get_attribute("#check-status", "data-via") or "", "wall_s": wall,
            "read": page.get_attribute("#check-status", "data-read") or "",
            "max_gap_ms": gaps["max"], "ticks": gaps["ticks"],
            "pss_before": sum(before.values()), "pss_peak": sum(peak[0].values()),
            "growth": ", ".join(f"{k} {(v - before.get(k, 0)) / 1e6:+.0f} MB"
                                for k, v in sorted(peak[0].items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the file, MiB")
    parser.add_argument("--runs", type=int, default=1, help="browser runs (the best is shown)")
    parser.add_argument("--slices", action="store_true",
                        help="make the worker read by File.slice (its fallback), not the stream")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = root / "big.bin"
        _make_file(big, args.mib)
        size = big.stat().st_size
        _hashlib(big)  # into the page cache
        sum_s, sum_sha = min(_timed(["sha256sum", str(big)]) for _ in range(2))
        lib_s, lib_sha = min(_hashlib(big) for _ in range(2))
        assert sum_sha == lib_sha
        config = root / "config.toml"
        config.write_text(f'data_dir = "{root / "archive"}"\noperator = "bench"\n',
                          encoding="utf-8")
        (root / "empty.txt").write_text("no links\n", encoding="utf-8")
        run_cli("ingest", str(root / "empty.txt"), config=config, check=0)  # makes the archive
        with serve_web(config) as site, sync_playwright() as playwright:
            site.add_user("bench", "viewer")
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 headless=True)
            try:
                page = browser.new_page()
                if args.slices:
                    _force_slices(page)
                page.goto(f"{site.url}/login?next=%2Fcheck")
                page.fill("input[name=name]", "bench")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{site.url}/check")
                page.evaluate(_GAPS)
                time.sleep(5)
                idle = page.evaluate("() => (clearInterval(window.__gapTimer), window.__gaps)")
                runs = [_browser_run(page, big) for _ in range(args.runs)]
                page.add_script_tag(url="/static/sha256.js")
                on_thread_ms = page.evaluate(_ON_THREAD, CHUNK_BYTES)
            finally:
                browser.close()
    best = min(runs, key=lambda r: float(r["worker_s"]))
    assert all(r["sha256"] == sum_sha for r in runs), "the browser's hash differs"
    mb = size / 1e6
    worker_s, wall_s = float(best["worker_s"]), float(best["wall_s"])
    print(f"worker reads by: {best['read']}")
    print(f"file: {size:,} bytes ({args.mib} MiB) in the page cache; chunk {CHUNK_BYTES >> 20} MiB; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'':34}{'seconds':>9}{'MB/s':>8}{'time / sha256sum':>18}")
    rows = [("sha256sum (baseline)", sum_s), ("python hashlib", lib_s),
            (f"browser worker ({best['via']})", worker_s),
            ("browser, choose to answer shown", wall_s)]
    for name, seconds in rows:
        print(f"{name:34}{seconds:9.2f}{mb / seconds:8.0f}{seconds / sum_s:17.1f}x")
    print(f"page responsiveness while hashing: longest gap between 50 ms ticks "
          f"{float(best['max_gap_ms']):.0f} ms ({best['ticks']} ticks)")
    print(f"the same page idle for 5 s (the machine's own jitter): longest gap "
          f"{float(idle['max']):.0f} ms ({idle['ticks']} ticks)")
    print(f"for contrast, one {CHUNK_BYTES >> 20} MiB chunk hashed on the page's own thread "
          f"holds it {on_thread_ms:.0f} ms")
    print(f"chromium PSS: {int(best['pss_before']) / 1e6:.0f} MB before, peak "
          f"{int(best['pss_peak']) / 1e6:.0f} MB while hashing "
          f"(+{(int(best['pss_peak']) - int(best['pss_before'])) / 1e6:.0f} MB "
          f"for a {mb:.0f} MB file: {best['growth']})")
    for r in runs:
        print(f"  run: worker {float(r['worker_s']):.2f} s, wall {float(r['wall_s']):.2f} s, "
              f"max gap {float(r['max_gap_ms']):.0f} ms")


if __name__ == "__main__":
    main()
