"""Read models: what the read commands show, as plain data, read through
``preserver.db.reading`` (docs/design.md "The read path").

- ``targets``: ``links``, ``show``, ``lookup`` and the reports a name refers to;
- ``reports``: each report with its links counted by state (the web's reports page);
- ``counts``: the counts of ``status``, and the capture jobs a run would take on;
- ``linkrot/``: the link-rot report and its JSON, CSV and HTML forms.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.views.counts import jobs_to_run, status
    from preserver.views.reports import reports
    from preserver.views.targets import links, lookup, reports_named, show

__all__ = [
    "jobs_to_run",
    "links",
    "lookup",
    "reports",
    "reports_named",
    "show",
    "status",
]

__getattr__, __dir__ = exports(__name__)
