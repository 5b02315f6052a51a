"""Ingest: a report file becomes citations and queued capture jobs.

- ``readers/``: a report file (text, Markdown, HTML) as plain text with lines;
- ``links``: every URL in that text with its citation context (line, label, offset),
  as a list or one at a time;
- ``targets``: a URL's canonical target key (``youtube:ID``, ``facebook:ID``, ``web:…``);
- ``report``: ``ingest_report`` records the report, its citations and targets, and
  queues the captures;
- ``urls``: URLs given directly (arguments, standard input) become one report of their own.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.ingest.links import FoundLink, extract_links, iter_links
    from preserver.ingest.readers import ReportText, read_report
    from preserver.ingest.report import IngestResult, SkippedLink, ingest_report
    from preserver.ingest.targets import TargetKey, canonical_target

__all__ = [
    "FoundLink",
    "IngestResult",
    "ReportText",
    "SkippedLink",
    "TargetKey",
    "canonical_target",
    "extract_links",
    "ingest_report",
    "iter_links",
    "read_report",
]

__getattr__, __dir__ = exports(__name__)
