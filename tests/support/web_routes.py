"""Every route of ``preserver web``, listed from the real application, and sample values
for their path parameters, so that the role matrix (tests/preserver/web/test_roles.py)
and the layout check (test_layout.py) cover a route as soon as it is added.

    for endpoint in endpoints():          # one per (method, path); HEAD left out
        endpoint.role                     # what its require(Role.X) demands; None: public
    url = endpoint.url(facts)             # the path with SAMPLES filled in

A new path parameter or required query parameter needs a sample here: ``url`` fails with
a message naming it otherwise.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from preserver.accounts.roles import Role
from preserver.config import Config, load_config
from preserver.web import create_app
from preserver.web.auth import route_role
from tests.support.cli import run_cli

# routes anyone may reach: signing in, the language switch, the API's documentation,
# the static files
PUBLIC = frozenset({
    ("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/lang/{code}"),
    ("GET", "/static"), ("GET", "/api/openapi.json"), ("GET", "/api/docs"),
    ("GET", "/static/swagger-ui"),  # the API documentation's Swagger UI files
})
# a file each mount of static files serves
STATIC_SAMPLES = {"/static": "/static/style.css",
                  "/static/swagger-ui": "/static/swagger-ui/swagger-ui.css"}


@dataclass(frozen=True, kw_only=True)
class Facts:
    """Real names from the web tests' archive (tests/preserver/web/conftest.py)."""

    report_sha256: str  # report A
    report_name: str
    target_key: str  # the captured clip's target
    target_url: str
    capture_id: str  # its capture
    manifest_sha256: str  # its signed manifest
    file_sha256: str  # a file of that capture: the clip itself
    page_file_sha256: str = ""  # the captured page's record (a WARC of a hostile page)
    run_id: str = ""  # the capture run that preserved report A


# a path parameter's sample, by its text in the path; PATH_SAMPLES overrides per route
Sample = Callable[[Facts], str]
SAMPLES: dict[str, Sample] = {
    "{code}": lambda f: "ar",
    "{sha256}": lambda f: f.file_sha256,
    "{file_sha256}": lambda f: f.file_sha256,
    "{report_sha256}": lambda f: f.report_sha256,
    "{manifest_sha256}": lambda f: f.manifest_sha256,
    "{report}": lambda f: f.report_sha256,
    "{key}": lambda f: f.target_key,
    "{key:path}": lambda f: f.target_key,
    "{target_key:path}": lambda f: f.target_key,
    "{capture_id}": lambda f: f.capture_id,
    "{capture}": lambda f: f.capture_id,
    "{run_id}": lambda f: f.run_id,
}
PATH_SAMPLES: dict[str, dict[str, Sample]] = {
    "/reports/{sha256}": {"{sha256}": lambda f: f.report_sha256},
    "/api/reports/{sha256}": {"{sha256}": lambda f: f.report_sha256},
    "/reports/{sha256}/package.zip": {"{sha256}": lambda f: f.report_sha256},
}
# more values to try a route with, each a set of overrides of SAMPLES (Endpoint.urls)
MORE_SAMPLES: dict[str, list[dict[str, Sample]]] = {
    "/files/{sha256}": [{"{sha256}": lambda f: f.page_file_sha256}],  # the page's record
}
# a required query parameter's sample, by its name
QUERY_SAMPLES: dict[str, Sample] = {
    "sha256": lambda f: f.file_sha256,
    "url": lambda f: f.target_url,
    "key": lambda f: f.target_key,
    "report": lambda f: f.report_sha256,
}


class MissingSample(AssertionError):
    """A route has a parameter with no sample value."""


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    method: str
    path: str  # as declared: /files/{sha256}
    role: Role | None  # None: public
    params: tuple[str, ...]  # the path's parameters as written: ("{sha256}",)
    query: tuple[str, ...]  # required query parameters
    body: tuple[str, ...] = ()  # declared body parameters: FastAPI reads them before require()

    @property
    def is_api(self) -> bool:
        return self.path == "/api" or self.path.startswith("/api/")

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def urls(self, facts: Facts) -> list[str]:
        """``url``, and one more for each of the route's MORE_SAMPLES that has a value."""
        more = [self.url(facts, extra) for extra in MORE_SAMPLES.get(self.path, [])
                if all(sample(facts) for sample in extra.values())]
        return [self.url(facts), *more]

    def url(self, facts: Facts, extra: dict[str, Sample] | None = None) -> str:
        """The path with every parameter filled from SAMPLES (and the required query)."""
        path = self.path
        for param in self.params:
            sample = ((extra or {}).get(param) or PATH_SAMPLES.get(self.path, {}).get(param)
                      or SAMPLES.get(param))
            if sample is None:
                raise MissingSample(f"{self.id}: no sample for the path parameter {param}: add "
                                    f"one to SAMPLES in tests/support/web_routes.py")
            safe = "/:" if param.endswith(":path}") else ""
            path = path.replace(param, quote(sample(facts), safe=safe))
        values = {}
        for name in self.query:
            if name not in QUERY_SAMPLES:
                raise MissingSample(f"{self.id}: no sample for the required query parameter "
                                    f"{name!r}: add one to QUERY_SAMPLES in "
                                    "tests/support/web_routes.py")
            values[name] = QUERY_SAMPLES[name](facts)
        return path + (f"?{urlencode(values)}" if values else "")


def _params(path: str) -> tuple[str, ...]:
    found, rest = [], path
    while "{" in rest:
        start = rest.index("{")
        end = rest.index("}", start)
        found.append(rest[start:end + 1])
        rest = rest[end + 1:]
    return tuple(found)


def _fields(dependant: Dependant, kind: str, *, required: bool) -> tuple[str, ...]:
    """The names of ``kind`` parameters (query_params, body_params) at any depth."""
    def walk(dependant: Dependant) -> Iterator[str]:
        for field in getattr(dependant, kind):
            if not required or field.field_info.is_required():
                yield field.alias
        for sub in dependant.dependencies:
            yield from walk(sub)
    return tuple(dict.fromkeys(walk(dependant)))


@cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every (method, path) ``preserver web`` serves."""
    return endpoints_of(create_app(Config()))


def endpoints_of(app: FastAPI) -> tuple[Endpoint, ...]:
    """Every (method, path) of ``app``, from its routes as FastAPI resolves them (an
    included router's own dependencies count)."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        assert path is not None, context
        if isinstance(context.original_route, Mount):
            found.append(Endpoint(method="GET", path=path, role=None, params=(), query=()))
            continue
        if not isinstance(context.original_route, Route | APIRoute):
            raise TypeError(f"a route of a kind the tests do not know: {context!r}")
        dependant = getattr(context, "dependant", None)
        role = None if dependant is None else route_role(dependant)
        query = () if dependant is None else _fields(dependant, "query_params", required=True)
        body = () if dependant is None else _fields(dependant, "body_params", required=False)
        for method in sorted((context.methods or set()) - {"HEAD"}):
            found.append(Endpoint(method=method, path=path, role=role, params=_params(path),
                                  query=query, body=body))
    return tuple(found)


def facts_of(config: Path, report_name: str, clip_url: str) -> Facts:
    # the captured page is the other target of report A (tests/preserver/web/conftest.py)
    """The sample values of an archive, read as the CLI prints them (``links --json``)."""
    targets = json.loads(run_cli("links", "--json", config=config, check=0).stdout)
    clip = next(t for t in targets if t["url"] == clip_url)
    capture = next(c for c in clip["captures"] if c["files"])
    cited = clip["citations"][0]
    assert cited["report"] == report_name, cited
    media = next(f for f in capture["files"] if f["role"] == "media")
    pages = [f["sha256"] for t in targets if t["url"] != clip_url for c in t["captures"]
             for f in c["files"] if f["role"] == "page"]
    # the run's id is in the database only (no command prints it)
    database = load_config(config, env={}).data_dir / "preserver.db"
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        [(run_id,)] = db.execute("SELECT DISTINCT run_id FROM jobs WHERE run_id IS NOT NULL")
    finally:
        db.close()
    return Facts(run_id=run_id, report_sha256=cited["report_sha256"], report_name=report_name,
                 target_key=clip["key"], target_url=clip["url"], capture_id=capture["id"],
                 manifest_sha256=capture["manifest_sha256"],
                 file_sha256=media["sha256"], page_file_sha256=pages[0] if pages else "")
