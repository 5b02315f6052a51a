"""A real evidence package to verify or break: report A (two clips) and report B (a
page) preserved in process against the fixture site, checkpointed and timestamped by a
local TSA, and report A exported by the real exporter, as a folder and as a ZIP.

    with built_packages(tmp, media, tsa_keys) as built:
        run_cli("verify", str(built.pkg), "--tsa-roots", str(built.roots))
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manifests import load_or_create_signing_key
from preserver.archive import open_archive
from preserver.capture.run import run_jobs
from preserver.config import load_config
from preserver.custody.ledger import make_checkpoint
from preserver.export.package import export_package
from preserver.ingest.report import ingest_report
from tests.support.cli import NO_COLLECTION
from tests.support.fixture_site import FixtureSite, Media, html_page
from tests.support.tsa import LocalTsa, TsaKeys


@dataclass(frozen=True, kw_only=True)
class Built:
    tmp: Path
    config: Path  # the archive's config file
    pkg: Path  # report A's package, a folder
    zip: Path  # report A's package, a ZIP
    roots: Path  # the trusted TSA root
    key_id: str
    b_url: str  # cited by report B only
    b_key: str
    b_sha256: str
    b_name: str


def write_config(path: Path, data_dir: Path, tsa_url: str, roots: Path) -> Path:
    path.write_text(
        f'data_dir = "{data_dir}"\noperator = "test-archivist"\n'
        '[capture]\ntimeout = "20s"\nmax_attempts = 1\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n'
        f'[custody]\ntsa_urls = ["{tsa_url}"]\ntsa_roots = "{roots}"\n' + NO_COLLECTION,
        encoding="utf-8")
    return path


async def preserve(config: Path, *reports: Path) -> None:
    async with open_archive(load_config(config, env={})) as archive:
        for report in reports:
            await ingest_report(archive, report)
            await run_jobs(archive)
            await make_checkpoint(archive)


async def export(config: Path, report: str, out: Path, *, zip: bool = False) -> Any:
    async with open_archive(load_config(config, env={})) as archive:
        return await export_package(archive, report=report, out=out, zip=zip)


@contextmanager
def built_packages(tmp: Path, media: Media, tsa_keys: TsaKeys) -> Iterator[Built]:
    """Report A's package (folder and ZIP) in ``tmp``; the site and TSA stop on exit."""
    site, tsa = FixtureSite.start(), LocalTsa.start(tsa_keys)
    try:
        a1 = site.add_file("/a/clip.mp4", media.mp4, "video/mp4")
        a2 = site.add_file("/a/clip-b.mp4", media.mp4_b, "video/mp4")
        b = site.add_bytes("/secret-b/statement.html",
                           html_page(title="B", body="<p>statement</p>"), "text/html")
        roots = tmp / "roots.pem"
        roots.write_bytes(tsa_keys.root_pem)
        config = write_config(tmp / "config.toml", tmp / "archive", tsa.url, roots)
        report_a, report_b = tmp / "douma-a.txt", tmp / "other-b.txt"
        report_a.write_text(f"1- الضحية الأولى\n{a1}\n2- الضحية الثانية\n{a2}\n",
                            encoding="utf-8")
        report_b.write_text(f"1- شاهد\n{b}\n", encoding="utf-8")
        asyncio.run(preserve(config, report_a, report_b))
        asyncio.run(export(config, "douma-a.txt", tmp / "pkg"))
        asyncio.run(export(config, "douma-a.txt", tmp / "pkg.zip", zip=True))
        yield Built(tmp=tmp, config=config, pkg=tmp / "pkg", zip=tmp / "pkg.zip", roots=roots,
                    key_id=load_or_create_signing_key(tmp / "archive" / "keys").key_id,
                    b_url=b, b_key=f"web:{b}", b_sha256=hashlib.sha256(
                        report_b.read_bytes()).hexdigest(), b_name=report_b.name)
    finally:
        site.close()
        tsa.close()
