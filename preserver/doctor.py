"""``preserver doctor``: what is missing for full capture, each with its fix.

Checks: the operator (``preserve``, ``run`` and ``serve`` refuse to collect without
one), ffmpeg (merging best video and audio), ffprobe (checking that a kept
video is as long as its source says), a JavaScript runtime yt-dlp can
use for YouTube (found as yt-dlp finds it), yt-dlp's age (platforms
change weekly; an old yt-dlp fails on YouTube), the yt-dlp plugins captures load and
YouTube's PO-token providers (a warning when YouTube has neither one nor a session),
what each ``[access.<group>]`` points at (``preserver.access_check``), Chromium (found, its version, and
that it starts headless), this machine's clock against ``[collection] ntp_server``,
the database, the data directory and its free space, the blob store (an S3 bucket:
reachable, credentials accepted, Object Lock and versioning enabled), the signing key,
and the configured TSAs. A check with nothing to check says so (``skip``), never ``ok``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from preserver.archive import free_space, open_store
from preserver.capture.collection import (
    CLOCK_WARN_MS,
    chromium_path,
    clock_warning,
    first_line,
    measure_clock,
)
from preserver.config import Config
from preserver.config_access import AccessConfig
from preserver.db.engine import check_schema, make_engine, safe_url
from preserver.errors import RunError, SchemaBehind, SchemaNewer
from storage import StorageError
from workers import Plugin, Plugins, find_ffprobe, load_plugins

YT_DLP_MAX_AGE_DAYS = 60
MIN_FREE_BYTES = 5 * 1024**3
CHROMIUM_START_SECONDS = 30.0  # a cold start on a slow disk takes a few seconds


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    outcome: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


def _version_of(program: str, args: list[str]) -> str | None:
    try:
        out = subprocess.run([program, *args], check=False, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else ""


def _program(name: str, path: str | None, *, missing: str, fix: str) -> Check:
    """ok with the program's version line, or warn with what is lost without it."""
    if not path:
        return Check(name=name, outcome="warn", detail=f"not found: {missing}", fix=fix)
    version = _version_of(path, ["-version"]) or "unknown version"
    return Check(name=name, outcome="ok", detail=f"{path}: {version}")


def check_ffmpeg(config: Config) -> Check:
    path = config.capture.ffmpeg or shutil.which("ffmpeg")
    found = path if path and (Path(path).is_file() or shutil.which(path)) else None
    return _program("ffmpeg", found,
                    missing="videos whose best quality comes as separate video and audio "
                            "streams are kept as the best single file instead",
                    fix="apt-get install ffmpeg (or set capture.ffmpeg to its path)")


def check_ffprobe(config: Config) -> Check:
    """ffprobe measures each kept video against the duration its source states."""
    return _program("ffprobe", find_ffprobe(config.capture.ffmpeg or shutil.which("ffmpeg")),
                    missing="a kept video's length is not checked against the duration its "
                            "source states (captures log 'duration not checked')",
                    fix="apt-get install ffmpeg (ffprobe comes with it)")


def check_js_runtime() -> Check:
    """The runtime yt-dlp would use for YouTube's JavaScript, found as yt-dlp finds it
    (``yt_dlp.utils._jsruntime``: the Python scripts directory, then PATH). yt-dlp
    enables only deno unless told otherwise; the others are named when found."""
    from yt_dlp.utils._jsruntime import (
        BunJsRuntime,
        DenoJsRuntime,
        NodeJsRuntime,
        QuickJsRuntime,
    )

    name = "JavaScript runtime"
    found = {key: cls().info for key, cls in (("deno", DenoJsRuntime), ("node", NodeJsRuntime),
                                               ("bun", BunJsRuntime),
                                               ("quickjs", QuickJsRuntime))}
    others = ", ".join(f"{i.name} {i.version}" + ("" if i.supported else " (too old)")
                       for key, i in found.items() if i is not None and key != "deno")
    also = f" (also found, not enabled: {others})" if others else ""
    deno = found["deno"]
    fix = 'pip install "yt-dlp[default,deno]" in preserver\'s environment'
    if deno is None:
        return Check(name=name, outcome="warn", fix=fix,
                     detail="no deno found: YouTube extraction is degraded, some formats "
                            f"missing; yt-dlp uses only deno unless told otherwise{also}")
    if not deno.supported:
        return Check(name=name, outcome="warn", fix=fix,
                     detail=f"{deno.path}: deno {deno.version} is older than yt-dlp "
                            f"supports{also}")
    return Check(name=name, outcome="ok",
                 detail=f"{deno.path}: deno {deno.version}, used by yt-dlp for YouTube{also}")


def _named(plugins: Sequence[Plugin], *, settings: str = "") -> str:
    """``name version (module)``; with ``settings``, the provider's extractor_args key."""
    return ", ".join(p.name + (f" {p.version}" if p.version else "") + f" ({p.module}"
                     + (f"; extractor_args {settings}-{p.key.lower()}" if settings else "")
                     + ")" for p in plugins)


def check_plugins(plugins: Plugins) -> Check:
    """The yt-dlp plugins a capture loads (``workers.plugins``: where they load from)."""
    kinds = [(what, found) for what, found in (("extractors", plugins.extractors),
                                                ("postprocessors", plugins.postprocessors))
             if found]
    if not kinds and not plugins.po_token_providers:
        return Check(name="yt-dlp plugins", outcome="skip",
                     detail="none installed in preserver's environment or on PYTHONPATH")
    detail = "; ".join(f"{what}: {_named(found)}" for what, found in kinds) or \
        "no extractors or postprocessors"
    return Check(name="yt-dlp plugins", outcome="ok",
                 detail=f"{detail}; from {', '.join(plugins.directories)}")


def check_po_tokens(config: Config, plugins: Plugins) -> Check:
    """YouTube's PO-token providers, and a warning when YouTube access has neither a
    session nor a provider."""
    name = "PO-token providers"
    if plugins.po_token_providers:
        return Check(name=name, outcome="ok",
                     detail=_named(plugins.po_token_providers, settings="youtubepot"))
    if config.access_for("youtube").cookies_file:
        return Check(name=name, outcome="skip",
                     detail="none loaded; YouTube is reached with the session of "
                            "[access.youtube] cookies_file")
    return Check(name=name, outcome="warn",
                 detail="none loaded, and [access.youtube] has no session (cookies_file): "
                        "from a server, YouTube answers most anonymous requests with a bot "
                        "check",
                 fix='pip install "preserver[youtube-pot]" and run its token server '
                     "(docs/yt-dlp.md \"Plugins and PO tokens\"), or set [access.youtube] "
                     "cookies_file")


def check_access(config: Config) -> list[Check]:
    """Each problem of the ``[access.<group>]`` sections (``preserver.access_check``)."""
    from preserver.access_check import Severity
    from preserver.access_check import check_access as problems_of

    if not config.access:
        return [Check(name="access", outcome="skip",
                      detail="no [access.<group>] section: every capture is anonymous and "
                             "direct")]
    problems = problems_of(config)
    if not problems:
        return [Check(name="access", outcome="ok",
                      detail=", ".join(f"{g} ({_how(a)})" for g, a in config.access.items()))]
    return [Check(name=f"access.{p.group}",
                  outcome="fail" if p.severity is Severity.ERROR else "warn",
                  detail=p.message, fix=p.fix) for p in problems]


def _how(access: AccessConfig) -> str:
    parts = [f"label {access.label!r}" if access.label else "",
             "session" if access.cookies_file else "anonymous",
             "proxy on failure" if access.proxy_on_failure_only else
             "proxy" if access.proxy else "direct",
             "extractor_args" if access.extractor_args else ""]
    return ", ".join(p for p in parts if p)


def check_yt_dlp(today: date | None = None) -> Check:
    try:
        from yt_dlp.version import __version__ as version
    except ImportError:
        return Check(name="yt-dlp", outcome="fail", detail="not installed",
                     fix='pip install "yt-dlp[default,deno]"')
    match = re.match(r"^(\d{4})\.(\d{2})\.(\d{2})", version)
    if not match:
        return Check(name="yt-dlp", outcome="warn", detail=f"version {version}: age unknown",
                     fix="pip install -U yt-dlp")
    released = date(int(match[1]), int(match[2]), int(match[3]))
    age = ((today or datetime.now(UTC).date()) - released).days
    if age > YT_DLP_MAX_AGE_DAYS:
        return Check(name="yt-dlp", outcome="warn",
                     detail=f"version {version} is {age} days old: platforms change often and "
                            "old versions fail on YouTube and Facebook",
                     fix='pip install -U "yt-dlp[default,deno]" (then run the tests)')
    return Check(name="yt-dlp", outcome="ok", detail=f"version {version} ({age} days old)")


def check_operator(config: Config) -> Check:
    """``preserve``, ``run`` and ``serve`` refuse to collect without an operator."""
    if config.operator.strip():
        return Check(name="operator", outcome="ok", detail=config.operator.strip())
    return Check(name="operator", outcome="fail",
                 detail="empty: preserve, run and serve refuse to start without the name of "
                        "who collects the evidence",
                 fix='give --operator NAME, set PRESERVER_OPERATOR, or write operator = "NAME" '
                     "in config.toml")


def check_chromium(config: Config, *, timeout: float = CHROMIUM_START_SECONDS) -> Check:
    """``[browser] executable`` is found, says its version, and starts headless."""
    name, executable = "Chromium", config.browser.executable
    if not config.browser.enabled:
        return Check(name=name, outcome="skip",
                     detail="[browser] enabled = false: no screenshots or rendered pages")
    fix = ("apt-get install chromium (Debian's package; nothing downloads a browser), set "
           "[browser] executable to its path, or set [browser] enabled = false")
    path = chromium_path(config)
    if path is None:
        return Check(name=name, outcome="fail", fix=fix,
                     detail=f"{executable!r} not found: no screenshot or rendered page of any "
                            "target (captures are partial)")
    version = first_line(path, "--version") or "unknown version"
    try:
        done = subprocess.run([path, "--headless", "--no-sandbox", "--disable-gpu",
                               "--dump-dom", "about:blank"], check=False, capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        problem = f"did not start headless within {timeout:g} s"
    except OSError as exc:
        problem = f"cannot run: {exc.strerror or exc}"
    else:
        started = done.returncode == 0 and b"<html" in done.stdout.lower()
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        problem = "" if started else (f"does not start headless (exit {done.returncode}"
                                      + (f": {said[-1][:200]}" if said else "") + ")")
    if problem:
        return Check(name=name, outcome="fail", detail=f"{path}: {version}: {problem}", fix=fix)
    return Check(name=name, outcome="ok", detail=f"{path}: {version}, starts headless")


async def check_clock(config: Config) -> Check:
    """This machine's clock against ``[collection] ntp_server`` (SNTP)."""
    clock = await measure_clock(config)
    if not clock.server:
        return Check(name="clock", outcome="skip",
                     detail="[collection] ntp_server is empty: the clock's offset is not "
                            "measured or recorded")
    if clock.offset_ms is None:
        return Check(name="clock", outcome="warn", detail=f"{clock.server}: {clock.error}",
                     fix="captures record that the clock was not measured; check the network "
                         "(UDP port 123) or set [collection] ntp_server")
    detail = (f"{clock.offset_ms:+d} ms from {clock.server} ({clock.address}, round trip "
              f"{clock.delay_ms} ms)")
    if clock_warning(clock):
        return Check(name="clock", outcome="warn",
                     detail=f"{detail}: more than {CLOCK_WARN_MS} ms off; capture times are "
                            "this clock's (each manifest records the offset)",
                     fix="set the clock right and keep it so (systemd-timesyncd, chrony)")
    return Check(name="clock", outcome="ok", detail=detail)


def check_data_dir(config: Config) -> Check:
    path = config.data_dir
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
    if not os.access(probe, os.W_OK):
        return Check(name="data directory", outcome="fail", detail=f"{path}: not writable",
                     fix=f"chown or chmod {probe}, or set data_dir in {config.path or 'config.toml'}")
    space = free_space(config)
    free = space.free_bytes
    detail = f"{path} ({free / 1024**3:.1f} GiB free)"
    if space.low:
        return Check(name="data directory", outcome="warn",
                     detail=f"{detail}: less than the largest expected capture "
                            f"([capture] max_bytes = {space.needed_bytes / 1024**3:.1f} GiB); "
                            "a capture that does not fit waits in retry",
                     fix=space.fix)
    if free < MIN_FREE_BYTES:
        return Check(name="data directory", outcome="warn", detail=detail + ": low on space",
                     fix="free space or move data_dir to a larger disk")
    return Check(name="data directory", outcome="ok", detail=detail)


async def check_database(config: Config) -> Check:
    """Reach the database read-only (doctor never creates or migrates one) and say
    whether its schema is this preserver's."""
    url = config.db_url
    if url.startswith("sqlite") and not config.database_url and \
            not (config.data_dir / "preserver.db").is_file():
        return Check(name="database", outcome="ok", detail=f"{url} (created on first use)")
    engine = make_engine(url, read_only=True)
    try:
        await check_schema(engine, url)
    except SchemaBehind as exc:
        return Check(name="database", outcome="warn", detail=str(exc),
                     fix="run `preserver migrate` (writing commands migrate on their own)")
    except SchemaNewer as exc:
        return Check(name="database", outcome="fail", detail=str(exc), fix="upgrade preserver")
    except RunError as exc:
        return Check(name="database", outcome="fail", detail=str(exc),
                     fix="check database_url / PRESERVER_DATABASE_URL and that the server runs")
    finally:
        await engine.dispose()
    return Check(name="database", outcome="ok", detail=safe_url(url))


def check_key(config: Config) -> Check:
    key = config.keys_dir / "signing.key"
    if not key.exists():
        return Check(name="signing key", outcome="ok", detail=f"{key} (created on first use)")
    mode = key.stat().st_mode & 0o777
    if mode & 0o077:
        return Check(name="signing key", outcome="fail", detail=f"{key} has mode {mode:o}",
                     fix=f"chmod 600 {key}")
    return Check(name="signing key", outcome="ok", detail=str(key))


async def check_tsas(config: Config) -> list[Check]:
    """Ask each configured TSA for a real token and verify it against the trusted roots."""
    from preserver.custody.tsa import TsaFailed, ask_tsa, trusted_roots
    from preserver.errors import ConfigError
    from preserver.net import http_client

    if not config.custody.tsa_urls:
        return [Check(name="timestamp authorities", outcome="warn",
                      detail="none configured: nothing is timestamped by an outside authority",
                      fix="list RFC 3161 authorities in [custody] tsa_urls")]
    try:
        roots = trusted_roots(config)
    except ConfigError as exc:
        return [Check(name="timestamp authorities", outcome="fail", detail=str(exc),
                      fix="set [custody] tsa_roots to a PEM file of the TSAs' root certificates")]
    checks = []
    async with http_client(config.network, timeout=15.0) as http:
        for url in config.custody.tsa_urls:
            try:
                _, _, when = await ask_tsa(http, url, b"preserver doctor", roots)
            except TsaFailed as exc:
                checks.append(Check(name=f"TSA {url}", outcome="warn", detail=str(exc),
                                    fix="checkpoints wait for it (retried on every run); check "
                                        "the URL, the network, and tsa_roots"))
                continue
            checks.append(Check(name=f"TSA {url}", outcome="ok",
                                detail=f"token verified, time {when.isoformat()}"))
    return checks


def check_blob_store(config: Config) -> Check:
    """``[storage]``: a bucket must answer, take the credentials, have Object Lock on."""
    if config.storage.backend != "s3":
        return Check(name="blob store", outcome="ok", detail=f"local: {config.blobs_dir}")
    try:
        status = open_store(config, read_only=True).bucket_status()  # type: ignore[attr-defined]
    except StorageError as exc:
        return Check(name="blob store", outcome="fail", detail=str(exc), fix="check [storage] "
                     "endpoint_url, bucket, region and the AWS credentials")
    ok = status.object_lock and status.versioning == "Enabled"
    return Check(name="blob store", outcome="ok" if ok else "fail",
                 fix="" if ok else "use a bucket created with Object Lock enabled",
                 detail=f"{status.where}: versioning {status.versioning or 'off'}, Object Lock "
                        f"{'on' if status.object_lock else 'off'}; objects "
                        f"{config.storage.object_lock_mode} for {config.storage.retention}")


def run_doctor(config: Config) -> list[Check]:
    plugins = load_plugins()
    return [
        check_operator(config),
        check_ffmpeg(config),
        check_ffprobe(config),
        check_js_runtime(),
        check_yt_dlp(),
        check_plugins(plugins),
        check_po_tokens(config, plugins),
        *check_access(config),
        check_chromium(config),
        asyncio.run(check_clock(config)),
        asyncio.run(check_database(config)),
        check_data_dir(config),
        check_blob_store(config),
        check_key(config),
        *asyncio.run(check_tsas(config)),
    ]
