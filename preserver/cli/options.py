"""The options and arguments several commands share (``typer`` annotations)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["ActingOpt", "JsonOpt", "OperatorOpt", "ReportsArg"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OperatorOpt = Annotated[str | None, typer.Option(
    "--operator", metavar="NAME",
    help="Who collects: recorded in every manifest and custody event (over the config's "
         "operator and PRESERVER_OPERATOR; required).")]
ReportsArg = Annotated[list[str], typer.Argument(metavar="REPORT|URL|-...", help="Report files (.txt, .md, .html, .pdf, .docx, .xlsx, .csv), URLs, or - for URLs on standard input, one a line. All the URLs of a command are one report of their own, urls-<date>-<hash>.txt.")]
ActingOpt = Annotated[str | None, typer.Option(
    "--operator", metavar="NAME",
    help="Who does it: named in the custody event (over the config's operator and "
         "PRESERVER_OPERATOR).")]
