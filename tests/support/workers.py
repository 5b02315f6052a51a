"""``preserver worker`` processes on one archive, for the many-workers tests and bench.

- ``Workers``: starts ``python -m preserver worker`` processes (each its own process
  group, its stderr to a log file), kills, stops, pauses and resumes them, and at the
  end kills whatever is left, with every process they started.
- ``pg_database()``: a throwaway PostgreSQL database (``tests.support.postgres``) from
  synchronous code; ``query(url, sql)``: rows of a statement on any archive URL.
- ``worker_config``: a config.toml for workers sharing one data directory and database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.cli import OFFLINE, OPERATOR
from tests.support.postgres import create_database, drop_database


@contextmanager
def pg_database() -> Iterator[str]:
    name, url = asyncio.run(create_database())
    try:
        yield url
    finally:
        asyncio.run(drop_database(name))


def query(url: str, sql: str) -> list[Any]:
    async def go() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return list(await conn.execute(sa.text(sql)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def worker_config(root: Path, *, database_url: str = "", lease: str = "3s", poll: str = "1s",
                  extra: str = "") -> Path:
    cfg = root / "config.toml"
    cfg.write_text(
        'data_dir = "archive"\n' + OPERATOR
        + (f'database_url = "{database_url}"\n' if database_url else "")
        + f'[queue]\nlease = "{lease}"\npoll = "{poll}"\n'
        + '[network]\nallow_networks = ["127.0.0.0/8"]\n'
        + '[capture]\ntimeout = "60s"\nretry_delay = "1s"\n'
        + '[serve]\ngrace = "5s"\n' + OFFLINE + extra, encoding="utf-8")
    return cfg


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> float:
    """Poll ``check`` until true; seconds it took. AssertionError after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not {what} after {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - start


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Workers:
    """Worker processes of one archive (``config``); ``close`` ends them all."""

    config: Path
    logs: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, env: dict[str, str] | None = None) -> Worker:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"worker-{len(self.started)}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "preserver", "--config", str(self.config), "worker"],
                stdout=subprocess.DEVNULL, stderr=err, env={**base, **(env or {})},
                start_new_session=True)
        worker = Worker(proc=proc, log=log)
        self.started.append(worker)
        return worker

    def live(self) -> list[Worker]:
        return [w for w in self.started if w.proc.poll() is None]

    @staticmethod
    def kill(worker: Worker) -> None:
        """SIGKILL the worker process alone (what it started must notice by itself)."""
        worker.proc.kill()
        worker.proc.wait(timeout=30)

    @staticmethod
    def stop(worker: Worker, timeout: float = 30.0) -> int:
        """SIGTERM once the worker has started (a process still importing dies of the
        signal, exit -15, having claimed nothing: not what a clean stop tests), and its
        exit code."""
        wait_for("the worker started", lambda: worker.proc.poll() is not None
                 or "worker started" in worker.text, timeout=timeout)
        worker.proc.send_signal(signal.SIGTERM)
        return worker.proc.wait(timeout=timeout)

    def close(self) -> None:
        for worker in self.started:
            try:
                os.killpg(worker.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.killpg(worker.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            worker.proc.wait(timeout=30)
