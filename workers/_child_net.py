"""The network of a yt-dlp child process (capture or probe), set up first thing.

1. The plugins load (``workers.plugins.load_plugins``), before any ``YoutubeDL``, and
   yt-dlp's request handlers share their TLS contexts (``workers._ytdlp_cache``). In a
   forkserver child both were done in the server: here they cost nothing.
2. The address guard is installed for the whole process (``workers._netguard``): through
   the guard proxy (``workers._guard_proxy``) when the access goes through a proxy, else
   on ``socket.getaddrinfo`` directly. Past it go only what the operator named: the
   proxy, and the token servers of the loaded PO-token providers
   (``workers.plugins.po_token_servers``: bgutil's HTTP server, usually on loopback),
   these only for the providers' own requests (``PoTokenProvider._request_webpage``,
   run inside ``_netguard.asking_servers``): a page, a redirect or a playlist that
   names the token server's address is refused like any other loopback address.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from workers import _guard_proxy, _netguard
from workers._ytdlp_cache import install_tls_cache
from workers.plugins import load_plugins, po_token_servers

__all__ = ["secure_child"]


def secure_child(*, proxy: str | None, allow_private: bool, allow_networks: tuple[str, ...],
                 timeout: float, extractor_args: Mapping[str, Mapping[str, Any]]
                 ) -> _guard_proxy.Guard | None:
    """Load the plugins and install the address guard; the guard proxy when ``proxy``."""
    load_plugins()  # before the first YoutubeDL, which would load them from anywhere
    install_tls_cache()
    servers = po_token_servers(extractor_args)
    if servers:
        _providers_ask_servers()
    if proxy:  # installs the address guard too
        return _guard_proxy.start(proxy=proxy, allow_private=allow_private,
                                  allow_networks=allow_networks, timeout=timeout,
                                  servers=servers)
    _netguard.install(allow_private=allow_private, allow_networks=allow_networks,
                      servers=servers)
    return None


def _providers_ask_servers() -> None:
    """Run every PO-token provider's request (yt-dlp's one way for a provider to reach
    the network) inside ``_netguard.asking_servers``; once per process."""
    from yt_dlp.extractor.youtube.pot.provider import PoTokenProvider

    original = PoTokenProvider._request_webpage
    if getattr(original, "__asking_servers__", False):
        return

    @functools.wraps(original)
    def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _netguard.asking_servers():
            return original(self, *args, **kwargs)

    request.__asking_servers__ = True  # type: ignore[attr-defined]
    PoTokenProvider._request_webpage = request
