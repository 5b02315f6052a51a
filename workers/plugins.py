"""yt-dlp plugins: where captures load them from, and which are loaded.

yt-dlp loads plugins (extractors, postprocessors, and through them YouTube PO-token
providers) the first time a ``YoutubeDL`` is made, from the ``yt_dlp_plugins``
namespace package found in its default places: every ``sys.path`` entry, its
configuration directories (``~/.config/yt-dlp/plugins``, ``~/.yt-dlp/plugins``,
``/etc/yt-dlp/plugins``, ``~/.config/yt-dlp-plugins`` ...) and beside its own
executable. Plugins are code run in every capture process, so preserver narrows
that down (``load_plugins``), before any ``YoutubeDL`` of the process is made:

- only **absolute** ``sys.path`` entries: the environment's ``site-packages``
  (``pip install "preserver[youtube-pot]"`` puts ``bgutil-ytdlp-pot-provider`` there)
  and directories the operator names in ``PYTHONPATH``;
- never the **working directory**: not ``""`` or any relative entry, and not the
  current directory itself (``python -m`` puts it first on ``sys.path``), so a
  ``yt_dlp_plugins`` folder where preserver happens to run (an archive, a download
  folder) is not imported;
- never yt-dlp's per-user and system **configuration directories**: a plugin
  dropped there for someone's own yt-dlp does not silently join evidence captures.

yt-dlp also honours ``YTDLP_NO_PLUGINS`` (set: no plugin loads at all). The narrowing
replaces ``yt_dlp.plugins.default_plugin_paths``, which yt-dlp documents as without
compatibility promise; ``tests/workers/test_plugins.py`` fails if it stops working.
docs/yt-dlp.md "Plugins and PO tokens" says the same for operators.

    >>> plugins = load_plugins()  # with preserver[youtube-pot] installed
    >>> [(p.name, p.key) for p in plugins.po_token_providers]
    [('bgutil:http', 'BgUtilHTTP'), ('bgutil:script-deno', 'BgUtilScriptDeno'), ...]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Plugin", "Plugins", "load_plugins", "loaded_plugins", "plugin_paths",
           "po_token_providers", "po_token_servers"]


@dataclass(frozen=True, kw_only=True)
class Plugin:
    """One loaded plugin class: its names in yt-dlp, the module it came from, a version."""

    name: str  # what yt-dlp shows: the extractor's key, a provider's PROVIDER_NAME (bgutil:http)
    key: str  # its key in yt-dlp's registry (BgUtilHTTP: extractor_args youtubepot-bgutilhttp)
    module: str  # yt_dlp_plugins.extractor.getpot_bgutil_http
    version: str = ""  # PROVIDER_VERSION for providers, else the module's __version__, or ""


@dataclass(frozen=True, kw_only=True)
class Plugins:
    """What this process loaded, and from which ``yt_dlp_plugins`` directories."""

    directories: tuple[str, ...]
    extractors: tuple[Plugin, ...]
    postprocessors: tuple[Plugin, ...]
    po_token_providers: tuple[Plugin, ...]


def plugin_paths() -> Iterator[Path]:
    """Where ``yt_dlp_plugins`` is looked for: the absolute ``sys.path`` entries other
    than the working directory and yt-dlp's own package directory."""
    import yt_dlp

    try:
        here: Path | None = Path.cwd().resolve()
    except OSError:  # the working directory was removed: nothing there to load
        here = None
    own = Path(yt_dlp.__file__).resolve().parent
    for entry in list(sys.path):
        if not entry or not os.path.isabs(entry):
            continue
        path = Path(entry)
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if resolved not in (here, own):
            yield path


def _narrow() -> None:
    """Make yt-dlp's plugin search use ``plugin_paths`` only (see the module docstring)."""
    import yt_dlp.plugins
    from yt_dlp.globals import plugin_dirs

    yt_dlp.plugins.default_plugin_paths = plugin_paths  # its PluginFinder calls it by name
    plugin_dirs.value = ["default"]


def load_plugins() -> Plugins:
    """Load the plugins from the allowed places, once per process; what is loaded.

    Call it before the process makes its first ``YoutubeDL``: the capture and probe
    children do, first thing."""
    import yt_dlp.extractor  # registers the plugin kinds: extractor, postprocessor
    import yt_dlp.postprocessor
    from yt_dlp.globals import all_plugins_loaded
    from yt_dlp.plugins import load_all_plugins

    if not all_plugins_loaded.value:
        _narrow()
        load_all_plugins()
        import yt_dlp.extractor.youtube.pot.provider  # noqa: F401  # the registry's users
    return loaded_plugins()


def loaded_plugins() -> Plugins:
    """What this process has loaded so far (nothing before ``load_plugins``)."""
    from yt_dlp.extractor.youtube.pot._registry import _pot_providers
    from yt_dlp.globals import all_plugins_loaded, plugin_ies, plugin_pps
    from yt_dlp.plugins import directories

    return Plugins(
        directories=tuple(directories()) if all_plugins_loaded.value else (),
        extractors=_listed(plugin_ies.value, "IE"),
        postprocessors=_listed(plugin_pps.value, "PP"),
        po_token_providers=_listed(_pot_providers.value, ""),
    )


def po_token_providers() -> tuple[str, ...]:
    """The names (``PROVIDER_NAME``, as yt-dlp shows them: ``bgutil:http``) of the YouTube
    PO-token providers loaded in this process, sorted."""
    return tuple(p.name for p in loaded_plugins().po_token_providers)


def po_token_servers(extractor_args: Mapping[str, Mapping[str, Any]]
                     ) -> tuple[tuple[str, int], ...]:
    """``(host, port)`` of the token servers of the loaded PO-token providers that ask a
    server (bgutil's HTTP provider: ``DEFAULT_BASE_URL`` ``http://127.0.0.1:4416``, or
    the operator's ``youtubepot-<key> = { base_url = … }``). The capture child lets
    these, and only these, past the address guard: the operator runs them, usually on
    loopback, and the provider asks them directly (no proxy)."""
    from yt_dlp.extractor.youtube.pot._registry import _pot_providers

    servers = []
    for key, cls in _pot_providers.value.items():
        given = extractor_args.get(f"youtubepot-{key.lower()}", {}).get("base_url")
        url = (given[0] if isinstance(given, list | tuple) and given else
               getattr(cls, "DEFAULT_BASE_URL", None))
        if not isinstance(url, str):
            continue
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            continue  # yt-dlp's provider will say what is wrong with it
        if parts.hostname:
            servers.append((parts.hostname, port))
    return tuple(sorted(set(servers)))


def _listed(registry: Mapping[str, Any], suffix: str) -> tuple[Plugin, ...]:
    out = []
    for key, cls in registry.items():
        module = str(getattr(cls, "__module__", ""))
        version = getattr(cls, "PROVIDER_VERSION", "") if not suffix else ""
        version = version or getattr(sys.modules.get(module), "__version__", "")
        name = key.removesuffix(suffix) if suffix else str(getattr(cls, "PROVIDER_NAME", key))
        out.append(Plugin(name=name, key=key.removesuffix(suffix), module=module,
                          version=str(version or "")))
    return tuple(sorted(out, key=lambda p: p.name))
