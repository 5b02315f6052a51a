"""Time `preserver preserve` on a 20-video report from a local fixture site against a
plain serial `yt-dlp` loop over the same URLs, in one run, side by side.

    .venv/bin/python bench/preserve_vs_ytdlp.py [--videos 20] [--seconds 4]

preserver does more per link than the loop (a WARC page snapshot, hashing into the
blob store, a signed manifest, the database), but runs links concurrently; the loop
downloads the media only. The ratio, not the absolute time, is the figure (the
machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fixture_site import FixtureSite, make_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=4, help="length of each fixture video")
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        site = FixtureSite.start()
        try:
            urls = []
            for i in range(args.videos):
                clip = make_clip(root / "media" / f"v{i}.mp4", freq=300 + 20 * i,
                                 duration=args.seconds)
                urls.append(site.add_file(f"/videos/v{i}.mp4", clip, "video/mp4"))
            report = root / "report.ar.txt"
            report.write_text("".join(f"{i + 1}- ضحية رقم {i + 1}\n{u}\n" for i, u in enumerate(urls)),
                              encoding="utf-8")
            config = root / "config.toml"
            config.write_text('data_dir = "archive"\noperator = "bench"\n'
                              '[network]\nallow_networks = ["127.0.0.1/32"]\n'
                              '[collection]\nip_echo_url = ""\nntp_server = ""\n',
                              encoding="utf-8")

            start = time.perf_counter()
            proc = subprocess.run([str(bindir / "preserver"), "--config", str(config), "preserve",
                                   str(report)], check=False, capture_output=True, text=True)
            preserver_s = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"preserver failed:\n{proc.stderr}")

            out = root / "ytdlp"
            out.mkdir()
            start = time.perf_counter()
            for url in urls:
                subprocess.run([str(bindir / "yt-dlp"), "-q", "--no-progress", "-P", str(out),
                                "-o", "%(id)s.%(ext)s", url], check=True)
            loop_s = time.perf_counter() - start

            batch = root / "ytdlp-batch"
            batch.mkdir()
            (root / "urls.txt").write_text("".join(u + "\n" for u in urls), encoding="utf-8")
            start = time.perf_counter()
            subprocess.run([str(bindir / "yt-dlp"), "-q", "--no-progress", "-P", str(batch),
                            "-o", "%(id)s.%(ext)s", "-a", str(root / "urls.txt")], check=True)
            batch_s = time.perf_counter() - start
        finally:
            site.close()
    print(f"{args.videos} videos of {args.seconds} s from the fixture site (one host, so the "
          "default politeness applies: 4 jobs at once, 2 per host)")
    print(f"  preserver preserve (capture + WARC + hashes + signed manifests): {preserver_s:6.2f} s")
    print(f"  serial yt-dlp loop (media only):                                {loop_s:6.2f} s")
    print(f"  one yt-dlp -a batch (media only):                               {batch_s:6.2f} s")
    print(f"  preserver is {batch_s / preserver_s:.2f}x the speed of the batch (target >= 1.5x), "
          f"{loop_s / preserver_s:.2f}x the speed of the loop")


if __name__ == "__main__":
    main()
