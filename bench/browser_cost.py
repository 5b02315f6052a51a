"""What the browser evidence costs: `preserver preserve` on a 20-link fixture report,
once with `[browser] enabled = false` and once with it on (the default), side by side.

    .venv/bin/python bench/browser_cost.py [--links 20] [--seconds 2] [--chromium PATH]

Each link is a page holding a `<video>` of a short clip and a script that fills in the
page's text from a fetch, as a post would. Both runs use the default concurrency. The
figures: wall time of each run, the time the browser adds per target, and the peak RSS
and PSS of the whole process tree (preserver, yt-dlp's children, Playwright's driver,
Chromium and its renderers), sampled every 50 ms from /proc, with when the peak came
and the PSS and number of each kind of process then (a Chromium utility process by the
service it runs: NetworkService, StorageService). PSS is the figure: RSS counts
Chromium's shared pages once per process. Targets from issue 10: at most
1.5 s more per target; under 600 MB with two pages at once.

``--chromium``: the browser to run (``[browser] executable``), e.g.
``chromium-headless-shell`` (docs/design.md "Browser evidence"). PSS shares a page among
every process mapping it, this tree's or not: another Chromium or Playwright driver
running on the machine at the same time lowers the figures (by up to 100 MB seen), so
compare medians of several runs made on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fixture_site import FixtureSite, html_page, make_clip


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            text = (task / "children").read_text()
            found += [int(p) for p in text.split()]
        return found
    except OSError:
        return []


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in bytes. PSS shares each shared page among the
    processes mapping it, so a tree's PSS sum is what the tree really holds; its RSS sum
    counts Chromium's shared libraries once per process."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


def _kind(pid: int) -> str:
    """What a process of the tree is: python, node (Playwright's driver), ffmpeg, or
    Chromium's process type (Chromium rewrites its command line as one string; a
    renderer of Chromium's own pages says --top-chrome-webui)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace")
    except OSError:
        return "gone"
    program = cmdline.split(" ", 1)[0].rsplit("/", 1)[-1]
    if "chromium" in program or "chrome" in program:
        kind = next((part.split("=", 1)[1] for part in cmdline.split()
                     if part.startswith("--type=")), "browser")
        service = next((part.split("=", 1)[1] for part in cmdline.split()
                        if part.startswith("--utility-sub-type=")), "")
        if service:  # "network.mojom.NetworkService": which service the utility runs
            kind += " " + service.rsplit(".", 1)[-1]
        return f"chromium {kind}" + (" (webui)" if "--top-chrome-webui" in cmdline else "")
    return program


def tree_memory(root: int) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """(RSS, PSS) summed over ``root`` and all its descendants, in bytes, and by kind of
    process their PSS and number (``root`` itself is "preserver"; the other Python
    processes are its forkserver and the yt-dlp jobs forked from it)."""
    rss = pss = 0
    kinds: dict[str, tuple[int, int]] = {}
    todo, seen = [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        r, p = _memory(pid)
        rss, pss = rss + r, pss + p
        kind = "preserver" if pid == root else _kind(pid)
        if kind.startswith("python"):
            kind = "python children"
        size, count = kinds.get(kind, (0, 0))
        kinds[kind] = (size + p, count + 1)
        todo += _children(pid)
    return rss, pss, kinds


Run = tuple[float, int, int, dict[str, tuple[int, int]], float]


def timed_run(command: list[str], env: dict[str, str]) -> Run:
    """Wall seconds, the peak tree RSS and PSS of one run, the PSS by kind then, and
    when the peak was (seconds from the start)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    peak_rss = peak_pss = 0
    at_peak: dict[str, tuple[int, int]] = {}
    peak_at = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_pss, at_peak, peak_at
        while not done.is_set():
            rss, pss, kinds = tree_memory(proc.pid)
            peak_rss = max(peak_rss, rss)
            if pss > peak_pss:
                peak_pss, at_peak, peak_at = pss, kinds, time.perf_counter() - start
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {err[-2000:]}")
    return time.perf_counter() - start, peak_rss, peak_pss, at_peak, peak_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=2, help="length of each fixture video")
    parser.add_argument("--chromium", default="chromium", help="[browser] executable")
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        site = FixtureSite.start()
        try:
            urls = []
            for i in range(args.links):
                clip = make_clip(root / "media" / f"v{i}.mp4", freq=300 + 20 * i,
                                 duration=args.seconds)
                video = site.add_file(f"/media/v{i}.mp4", clip, "video/mp4")
                site.add_bytes(f"/api/post{i}.json", f'{{"text": "testimony {i}"}}'.encode(),
                               "application/json")
                body = (f'<h1 id="t">loading</h1><video controls src="{video}"></video>'
                        f"<script>fetch('/api/post{i}.json').then(r => r.json())"
                        ".then(d => { document.getElementById('t').textContent = d.text; })"
                        "</script>")
                urls.append(site.add_bytes(f"/posts/{i}", html_page(title=f"Post {i}", body=body),
                                           "text/html"))
            report = root / "report.ar.txt"
            report.write_text("".join(f"{i + 1}- ضحية رقم {i + 1}\n{u}\n"
                                      for i, u in enumerate(urls)), encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
            env["PRESERVER_OPERATOR"] = "bench"
            results = {}
            for label, enabled in (("without browser", "false"), ("with browser", "true")):
                config = root / f"{enabled}.toml"
                config.write_text(
                    f'data_dir = "archive-{enabled}"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                    f'[collection]\nip_echo_url = ""\nntp_server = ""\n'
                    f"[browser]\nenabled = {enabled}\nexecutable = {json.dumps(args.chromium)}\n",
                    encoding="utf-8")
                results[label] = timed_run([str(bindir / "preserver"), "--config", str(config),
                                            "preserve", str(report)], env)
        finally:
            site.close()
    (base_s, _, base_pss, _, _), (with_s, _, with_pss, _, _) = results.values()
    per_target = (with_s - base_s) / args.links
    print(f"{args.links} links, default concurrency")
    print(f"{'':18}{'wall s':>8}{'peak tree RSS MB':>18}{'peak tree PSS MB':>18}"
          f"{'peak at s':>11}")
    for label, (seconds, rss, pss, _, at) in results.items():
        print(f"{label:18}{seconds:8.1f}{rss / 2**20:18.0f}{pss / 2**20:18.0f}{at:11.1f}")
    for label, (*_, kinds, _) in results.items():
        print(f"PSS at the peak {label}, by kind of process (MB, number): " + ", ".join(
            f"{kind} {size / 2**20:.0f} x{count}"
            for kind, (size, count) in sorted(kinds.items(), key=lambda kv: -kv[1][0])))
    print(f"browser adds {per_target:.2f} s per target (target: <= 1.5 s); "
          f"ratio with/without {with_s / base_s:.2f}x; peak tree PSS {with_pss / 2**20:.0f} MB, "
          f"{(with_pss - base_pss) / 2**20:+.0f} MB for the browser (target: < 600 MB)")


if __name__ == "__main__":
    main()
