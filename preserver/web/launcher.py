"""Capture runs started from the web: ``python -m preserver run`` as a child process.

``Launcher.start(operator=..., report=...)`` starts ``python -m preserver [--config
PATH] run --operator NAME`` in a process group of its own, in the data directory, its
standard output and error going to ``<data_dir>/logs/web-run-<id>.log``. So:

- a capture that crashes, hangs or runs out of memory takes down that child, never the
  web server; the crash-safety of ``preserver run`` applies (its jobs are requeued by
  the next run, ``db.runs``), and its custody events name the user (``--operator``, the
  one way the child is told who acts: ``preserver_child``);
- the child reads the web's own configuration: every setting but the operator is passed
  as its ``PRESERVER_*`` variable (``config_env``; the file, when there is one, still gives the
  ``[access.<group>]`` tables, which have no variables), and the start is refused if
  those variables do not read back as the same configuration;
- one run at a time from this web process (``RunBusy``, 409 to the user); ``preserver
  serve`` or ``preserver worker`` may be capturing meanwhile, and the queue gives each
  job to one of them;
- the runs are remembered by this process only (``runs``), newest first; when the web
  server stops, a run still going is stopped (SIGTERM to its group, SIGKILL after
  ``STOP_GRACE``), and its claimed jobs go back to the queue as after any interrupted run.

``run_preserver`` runs a shorter ``preserver`` command the same way and waits for it:
the web's evidence packages (``export``) and uploaded reports (``ingest``), so that their
work is never done in the server's event loop.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import sys
import uuid
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from preserver.config import SETTINGS, Config, _build
from preserver.custody.events import rfc3339
from preserver.errors import RunError
from storage import Retention

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL when the web server stops


class RunBusy(Exception):
    """A run started from this web process is still going."""

    def __init__(self, run: WebRun) -> None:
        super().__init__(f"a run started by {run.started_by} at {rfc3339(run.started_at)} is "
                         f"still going: watch it at /runs/{run.id}")
        self.run = run


@dataclass(frozen=True, kw_only=True)
class WebRun:
    """A run started from the web, as it stands."""

    id: str
    started_by: str  # the operator its custody events name
    started_at: datetime
    report: str | None  # the SHA-256 of the report whose progress it watches, if any
    pid: int
    log: Path
    ended_at: datetime | None = None
    exit_code: int | None = None

    @property
    def status(self) -> str:
        """``running``, ``complete`` (exit 0) or ``failed`` (any other exit)."""
        if self.exit_code is None:
            return "running"
        return "complete" if self.exit_code == 0 else "failed"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started_by": self.started_by,
                "started_at": rfc3339(self.started_at), "report": self.report,
                "pid": self.pid, "status": self.status, "exit_code": self.exit_code,
                "ended_at": rfc3339(self.ended_at) if self.ended_at else None}


def _env_text(value: object) -> str:
    """A setting's value as its ``PRESERVER_*`` variable is written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # durations
        return f"{int(value)}s" if value == int(value) else f"{round(value * 1000)}ms"
    if isinstance(value, tuple) and len(value) == 2 and all(type(v) is int for v in value):
        return f"{value[0]}x{value[1]}"  # a viewport
    if isinstance(value, tuple):  # a list of strings, in TOML array syntax
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, int | str | Path | Retention):
        return str(value)
    raise RunError(f"cannot pass a setting of type {type(value).__name__} to a run")


def config_env(config: Config) -> dict[str, str]:
    """Every setting of ``config`` as its ``PRESERVER_*`` variable; ``RunError`` when they
    would not read back as ``config`` (its ``[access]`` tables aside)."""
    env = {s.env: _env_text(getattr(getattr(config, s.section) if s.section else config,
                                    s.name)) for s in SETTINGS}
    again = replace(_build({}, env, base=config.data_dir, path=config.path),
                    access=config.access)
    if again != config:
        differ = [f.name for f in fields(config) if getattr(again, f.name) != getattr(config, f.name)]
        raise RunError(f"the configuration cannot be passed to a run ({', '.join(differ)} "
                       "would differ): start `preserver run` from a shell")
    return env


def preserver_child(config: Config, name: str, *args: str, operator: str
                    ) -> tuple[list[str], dict[str, str]]:
    """The command and environment of ``python -m preserver [--config PATH] NAME --operator
    OPERATOR ARGS`` with the web's configuration (``config_env``).

    The operator is given once, as ``--operator`` (the CLI's first way, over
    ``PRESERVER_OPERATOR`` and the file's ``operator``), and the child's environment has no
    ``PRESERVER_OPERATOR``: neither the web server's own operator nor one it inherited can
    stand in for the signed-in user.

    Its output is read (``ingest --json``'s JSON, the last line of its errors) and logged:
    ``TTY_COMPATIBLE=0`` tells rich its pipes are no terminal, whatever the server
    inherited (``FORCE_COLOR``, ``TTY_COMPATIBLE=1``: colours and highlighted JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")
           or k.startswith("PRESERVER_TEST_")} | config_env(config)
    env.pop("PRESERVER_OPERATOR", None)
    env.pop("FORCE_COLOR", None)
    env["TTY_COMPATIBLE"] = "0"
    command = [sys.executable, "-m", "preserver"]
    if config.path is not None:
        command += ["--config", str(config.path.resolve())]
    return [*command, name, "--operator", operator, *args], env


@dataclass(frozen=True, kw_only=True)
class Finished:
    """A ``preserver`` child that ran to its end: its exit code and what it printed."""

    exit_code: int
    stdout: bytes
    stderr: str

    @property
    def last_line(self) -> str:
        """Its last line on standard error, without ``error: ``: the CLI's one-line message."""
        said = self.stderr.strip()
        return said.splitlines()[-1].removeprefix("error: ") if said else "no message"

    @property
    def disk_full(self) -> bool:
        """Whether its message says a disk (or quota) is full."""
        return any(os.strerror(code) in self.last_line for code in (errno.ENOSPC, errno.EDQUOT))


async def run_preserver(config: Config, name: str, *args: str, operator: str) -> Finished:
    """``preserver NAME ARGS`` as ``operator`` (``preserver_child``) in a process group of
    its own, in the data directory, run to its end; cancelled (the client went away, the
    server stops), it is killed first. ``RunError`` when it cannot be started."""
    command, env = preserver_child(config, name, *args, operator=operator)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=config.data_dir,
            start_new_session=True)
    except OSError as exc:
        raise RunError(f"cannot start `preserver {name}`: {exc.strerror or exc}") from exc
    try:
        stdout, stderr = await process.communicate()
    except BaseException:
        signal_group(process.pid, signal.SIGKILL)
        await asyncio.shield(process.wait())
        raise
    assert process.returncode is not None
    return Finished(exit_code=process.returncode, stdout=stdout,
                    stderr=stderr.decode("utf-8", errors="replace"))


def signal_group(pid: int, sig: signal.Signals) -> None:
    """``sig`` to the process group of ``pid`` (a child started in a session of its own)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:  # ended meanwhile
        pass


@dataclass(kw_only=True)
class _Child:
    run: WebRun
    process: asyncio.subprocess.Process
    watcher: asyncio.Task[None] | None = None


class Launcher:
    """The runs this web process started (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._children: dict[str, _Child] = {}
        self._lock = asyncio.Lock()

    def runs(self) -> list[WebRun]:
        return sorted((c.run for c in self._children.values()),
                      key=lambda r: r.started_at, reverse=True)

    def get(self, run_id: str) -> WebRun | None:
        child = self._children.get(run_id)
        return child.run if child is not None else None

    def running(self) -> WebRun | None:
        return next((r for r in self.runs() if r.status == "running"), None)

    async def start(self, *, operator: str, report: str | None) -> WebRun:
        """Start a run in ``operator``'s name; ``RunBusy`` while one of ours is going."""
        async with self._lock:
            if (busy := self.running()) is not None:
                raise RunBusy(busy)
            command, env = preserver_child(self.config, "run", operator=operator)
            run_id = uuid.uuid4().hex
            logs = self.config.data_dir / "logs"
            try:
                logs.mkdir(mode=0o700, exist_ok=True)
                log = logs / f"web-run-{run_id}.log"
                with log.open("xb") as out:
                    process = await asyncio.create_subprocess_exec(
                        *command, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                        env=env, cwd=self.config.data_dir, start_new_session=True)
            except OSError as exc:
                raise RunError(f"cannot start `preserver run`: {exc.strerror or exc}") from exc
            run = WebRun(id=run_id, started_by=operator, started_at=datetime.now(UTC),
                         report=report, pid=process.pid, log=log)
            child = _Child(run=run, process=process)
            child.watcher = asyncio.create_task(self._watch(child))
            self._children[run_id] = child
            return run

    async def _watch(self, child: _Child) -> None:
        code = await child.process.wait()
        child.run = replace(child.run, exit_code=code, ended_at=datetime.now(UTC))

    async def stop(self) -> None:
        """Stop every run still going (the web server is stopping)."""
        going = [c for c in self._children.values() if c.run.status == "running"]
        for child in going:
            signal_group(child.process.pid, signal.SIGTERM)
        for child in going:
            try:
                await asyncio.wait_for(asyncio.shield(child.process.wait()), STOP_GRACE)
            except TimeoutError:
                signal_group(child.process.pid, signal.SIGKILL)
                await child.process.wait()
            if child.watcher is not None:
                await child.watcher


def log_tail(run: WebRun, *, limit: int = 4096) -> str:
    """The end of a run's log (its last ``limit`` bytes), for its page."""
    try:
        with run.log.open("rb") as fh:
            fh.seek(max(0, run.log.stat().st_size - limit))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
