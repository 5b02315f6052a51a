"""Big reports: ingest memory does not grow with the links, and no text makes link
extraction quadratic. Speed is measured by ``bench/ingest_scale.py``, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import preserver.ingest.links as links_module
from preserver.ingest.links import extract_links
from preserver.ingest.targets import canonical_target
from tests.support.cli import run_in
from tests.support.ingest_memory import douma_cited, douma_report

ROOT = Path(__file__).parents[2]


def ingest_in_child(tmp_path: Path, links: int) -> tuple[dict[str, Any], str]:
    root = tmp_path / str(links)
    root.mkdir()
    report = root / "douma.ar.txt"
    text = douma_report(links)
    report.write_text(text, encoding="utf-8")
    cfg = root / "config.toml"
    cfg.write_text(f'data_dir = "{root / "archive"}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    done = subprocess.run([sys.executable, "-m", "tests.support.ingest_memory", str(cfg),
                           str(report)], capture_output=True, text=True, env=env, timeout=600,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), text


@pytest.mark.slow
def test_20000_links_are_ingested_in_bounded_memory(tmp_path: Path) -> None:
    """Reports of 2,000 and 20,000 links, each ingested in a fresh archive in a process
    of its own. The peak memory over the open archive grows by a few MiB from one to the
    other: the report's text and the sorted target keys its custody event carries. One
    ORM object per link (before: about 11 KiB each) would add some 200 MiB."""
    small, _ = ingest_in_child(tmp_path, 2_000)
    big, text = ingest_in_child(tmp_path, 20_000)
    links = extract_links(text)
    keys = {canonical_target(link.url).key for link in links}
    assert len(links) == 20_000 and len(keys) == len({douma_cited(n) for n in range(20_000)})
    assert (big["citations"], big["targets"], big["new_targets"], big["queued"],
            big["skipped"]) == (len(links), len(keys), len(keys), len(keys), 0)
    growth = (big["end_kib"] - big["opened_kib"]) - (small["end_kib"] - small["opened_kib"])
    assert growth < 24 * 1024, (small, big)  # measured here: ~10 MiB


@pytest.mark.slow
def test_a_paragraph_of_bare_links_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links with no entry, heading or word above them take the label of their paragraph,
    which is found, or not, once per paragraph: before, each link looked again from the
    paragraph's first line, n * n / 2 line visits for a paragraph of n bare links."""
    visits = 0
    real = links_module._without_links

    def counted(*args: Any, **kwargs: Any) -> str:
        nonlocal visits
        visits += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(links_module, "_without_links", counted)
    text = "\n".join(f"https://example.org/{n}" for n in range(3_000))
    links = extract_links(text)
    assert [link.label for link in links] == [f"https://example.org/{n}" for n in range(3_000)]
    assert visits <= 3_000, visits
    visits = 0
    links = extract_links("شاهد المقاطع\n" + text + "\n\n" + text)
    assert {link.label for link in links[:3_000]} == {"شاهد المقاطع"}
    assert links[3_000].label == "https://example.org/0"  # a new paragraph: no words
    assert visits <= 6_001, visits  # each paragraph's lines once, looking for 8 words


def test_skipped_links_are_all_counted_and_the_first_hundred_listed(tmp_path: Path) -> None:
    """150 cited URLs too long to capture: each is skipped, 100 are named, the rest
    counted, so a report of thousands of them does not flood the terminal."""
    report = tmp_path / "long-urls.txt"
    report.write_text("".join(f"{n}- اسم\nhttps://example.org/{n}/{'a' * 8200}\n"
                              for n in range(1, 151)) + "151- اسم\nhttps://youtu.be/45WIwFETn3E\n",
                      encoding="utf-8")
    result = run_in(tmp_path, "ingest", str(report))
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "1 citations of 1 targets" in lines[0]
    assert sum("skipped line" in line for line in lines) == 100
    assert lines[-1].strip() == "… and 50 more skipped links"
