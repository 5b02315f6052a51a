"""The link-rot report: per report, links up, down (why), restricted or unknown,
since when, and the copy held.

- ``report``: ``linkrot`` builds the ``LinkrotReport``;
- ``formats``: JSON, CSV and text; ``html``: one self-contained right-to-left page.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.views.linkrot.formats import CSV_COLUMNS, as_text, to_csv, to_json
    from preserver.views.linkrot.html import render_html
    from preserver.views.linkrot.report import LinkrotReport, kind_of, linkrot

__all__ = [
    "CSV_COLUMNS",
    "LinkrotReport",
    "as_text",
    "kind_of",
    "linkrot",
    "render_html",
    "to_csv",
    "to_json",
]

__getattr__, __dir__ = exports(__name__)
