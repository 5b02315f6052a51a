"""Run ``preserver`` the one way the tests do.

- ``run_cli``: in this process, through the CLI's one error boundary (``main``), in a
  thread of its own so that async tests may call it too. The default: it spares each
  command a new interpreter (about a second of imports).
- ``run_cli_process``: ``python -m preserver`` in a new process, for a test whose point
  is a process of its own (each command a fresh start, as a user runs it).
- ``start_cli``: the same process left running (stderr piped), for a test that signals
  or kills it.

All three run with the environment's ``PRESERVER_*`` variables removed and ``env``
added, in ``cwd`` if given; ``config`` becomes ``--config``. The two that finish return
``CliResult(code, stdout, stderr)`` and, with ``check=N``, assert the exit code was N.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, config: Path | None = None, env: Mapping[str, str] | None = None,
            cwd: Path | None = None, check: int | None = None,
            stdin: bytes | None = None) -> CliResult:
    """``preserver [--config CONFIG] ARGS`` in this process (``stdin``: its standard
    input's bytes; none by default)."""
    argv = _argv(config, args)
    out, err = io.StringIO(), io.StringIO()

    def call() -> int:
        with _environ(env), _chdir(cwd), redirect_stdout(out), redirect_stderr(err), \
                _stdin(stdin), _logs_to(err, verbose="--verbose" in argv or "-v" in argv):
            return _main(argv)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="preserver-cli") as pool:
        code = pool.submit(call).result()
    return _checked(CliResult(code=code, stdout=out.getvalue(), stderr=err.getvalue()), check)


def run_cli_process(*args: str, config: Path | None = None,
                    env: Mapping[str, str] | None = None, cwd: Path | None = None,
                    check: int | None = None, timeout: float = 300,
                    stdin: bytes | None = None) -> CliResult:
    """``python -m preserver [--config CONFIG] ARGS`` in a new process (``stdin``: bytes
    piped to its standard input)."""
    if stdin is not None:
        piped = subprocess.run(_command(config, args), check=False, capture_output=True,
                               input=stdin, env=_child_env(env), cwd=cwd, timeout=timeout)
        return _checked(CliResult(code=piped.returncode, stdout=piped.stdout.decode(),
                                  stderr=piped.stderr.decode()), check)
    done = subprocess.run(_command(config, args), check=False, capture_output=True, text=True,
                          env=_child_env(env), cwd=cwd, timeout=timeout)
    return _checked(CliResult(code=done.returncode, stdout=done.stdout, stderr=done.stderr),
                    check)


def start_cli(*args: str, config: Path | None = None, env: Mapping[str, str] | None = None,
              group: bool = False, cwd: Path | None = None,
              stdin: int | None = None) -> subprocess.Popen[str]:
    """``python -m preserver [--config CONFIG] ARGS`` started, its stderr piped (text);
    with ``group``, as the leader of a process group of its own, for ``os.killpg``;
    ``stdin``: a file descriptor for its standard input (a terminal's, say)."""
    return subprocess.Popen(_command(config, args), stderr=subprocess.PIPE, text=True,
                            env=_child_env(env), start_new_session=group, cwd=cwd,
                            stdin=stdin)


# -- helpers ------------------------------------------------------------------------------


def _argv(config: Path | None, args: tuple[str, ...]) -> list[str]:
    return [*(["--config", str(config)] if config is not None else []), *args]


def _command(config: Path | None, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "preserver", *_argv(config, args)]


def _child_env(extra: Mapping[str, str] | None,
               environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    base = {k: v for k, v in environ.items() if not k.startswith("PRESERVER_")}
    return {**base, **(extra or {})}


def _checked(result: CliResult, check: int | None) -> CliResult:
    if check is not None:
        assert result.code == check, f"exit {result.code}\n{result.stdout}\n{result.stderr}"
    return result


def _main(argv: list[str]) -> int:
    """The console script's exit code for ``argv``."""
    from preserver.cli import main

    saved = sys.argv
    sys.argv = ["preserver", *argv]
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.argv = saved
    return 0


@contextmanager
def _environ(extra: Mapping[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_child_env(extra, saved))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _stdin(data: bytes | None) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data or b""), encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin = saved


@contextmanager
def _chdir(where: Path | None) -> Iterator[None]:
    saved = Path.cwd()
    if where is not None:
        os.chdir(where)
    try:
        yield
    finally:
        os.chdir(saved)


@contextmanager
def _logs_to(stream: io.StringIO, *, verbose: bool) -> Iterator[None]:
    """Log records to ``stream`` as the CLI's ``logging.basicConfig`` sends them to stderr
    in a process of its own (here pytest's handlers already hold the root logger, so
    ``basicConfig`` does nothing)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, handler.level))
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def run_in(root: Path, *args: str, config: Path | None = None,
           env: Mapping[str, str] | None = None) -> CliResult:
    """``run_cli`` in ``root``, with ``root/config.toml`` (``data_dir = "archive"``, an
    operator, no collection endpoints: written when missing) unless ``config`` names
    another."""
    return run_cli(*args, config=config or default_config(root), env=env, cwd=root)


# Every test archive's config.toml names an operator (preserve, run and serve refuse to
# start without one) and turns off the collection record's two internet endpoints, the
# echo service and the NTP server (tests never reach the internet): NO_COLLECTION.
# OFFLINE also turns the browser off, so that a test about something else does not pay
# for a Chromium per run; the browser's own tests, the end-to-end test and the evidence
# packages (tests/support/evidence.py) keep it on (NO_COLLECTION only), as a user has it.
# OPERATOR goes with the top-level keys, the others among the tables.
OPERATOR = 'operator = "test-operator"\n'
NO_COLLECTION = '[collection]\nip_echo_url = ""\nntp_server = ""\n'
OFFLINE = NO_COLLECTION + '[browser]\nenabled = false\n'


def default_config(root: Path) -> Path:
    cfg = root / "config.toml"
    if not cfg.exists():
        cfg.write_text('data_dir = "archive"\n' + OPERATOR + OFFLINE, encoding="utf-8")
    return cfg


def assert_one_line_error(proc: CliResult, code: int, match: str) -> None:
    """Exit ``code`` with one line on stderr containing ``match`` and no traceback."""
    assert proc.code == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert match in lines[0], lines[0]

