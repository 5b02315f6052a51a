"""How a job reaches its target: anonymously and directly, or with a session and a proxy.

``Access`` is the frozen value a ``CaptureJob`` and a ``ProbeTarget`` carry, built from
``[access.<group>]`` in the configuration (``preserver.config.AccessConfig``), where a
group is a politeness group (``youtube``, ``facebook``, a web host). It holds secrets
(the cookies file's path, the proxy's credentials); what may be shown of it is its
``label`` and ``record``, never the cookies or the proxy URL.

    >>> Access(group="youtube").record(proxied=False)
    {'label': '', 'session': False, 'proxy': False}
    >>> a = Access(group="facebook", label="account-3 via proxy-de",
    ...            cookies_file=Path("/secrets/fb.txt"), proxy="socks5://u:p@10.0.0.9:1080")
    >>> seen_as(a.record(proxied=True))
    'session account-3 via proxy-de, through its proxy'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["BEFORE_ACCESS", "Access", "seen_as"]

ExtractorArgs = Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True, kw_only=True)
class Access:
    """One politeness group's access (``[access.<group>]``); anonymous and direct by default."""

    group: str = ""
    label: str = ""  # what records may show; the secrets never are
    cookies_file: Path | None = None  # a Netscape cookies file, read at capture time
    proxy: str | None = None  # http://, https://, socks5:// URL, maybe with credentials
    proxy_on_failure_only: bool = False  # direct first; the proxy after a blocked try
    extractor_args: ExtractorArgs = field(default_factory=dict)  # yt-dlp's, as given
    audit: bool = True  # probes use this access too; False keeps them anonymous

    def ytdlp_extractor_args(self, ours: Mapping[str, Mapping[str, list[str]]]
                             ) -> dict[str, dict[str, list[str]]]:
        """yt-dlp's ``extractor_args`` param: ``ours`` with the operator's
        (``[access.<group>] extractor_args``) over it, argument by argument.

        >>> Access(extractor_args={"youtube": {"player_client": ("mweb",)}}
        ...        ).ytdlp_extractor_args({"youtube": {"skip": ["translated_subs"]}})
        {'youtube': {'skip': ['translated_subs'], 'player_client': ['mweb']}}
        """
        merged = {ie: {k: list(v) for k, v in args.items()} for ie, args in ours.items()}
        for ie, args in self.extractor_args.items():
            merged.setdefault(ie, {}).update({k: list(v) for k, v in args.items()})
        return merged

    @property
    def session(self) -> bool:
        return self.cookies_file is not None

    @property
    def name(self) -> str:
        """The label, or ``access.<group>`` when none was given."""
        return self.label or (f"access.{self.group}" if self.group else "anonymous")

    @property
    def proxied(self) -> bool:
        """Does a fetch with this access go through the proxy (now, not only after a block)?"""
        return self.proxy is not None and not self.proxy_on_failure_only

    def attempts(self) -> tuple[Access, ...]:
        """The accesses a capture tries in turn: this one; or, with
        ``proxy_on_failure_only``, direct first and then through the proxy (the second
        only when the platform blocked the first: ``workers.capture.blocked``)."""
        if self.proxy is None or not self.proxy_on_failure_only:
            return (self,)
        return (replace(self, proxy=None, proxy_on_failure_only=False),
                replace(self, proxy_on_failure_only=False))

    def for_probes(self) -> Access:
        """What availability probes use: this access, or anonymous with ``audit = false``."""
        return self if self.audit else Access(group=self.group)

    def record(self, *, proxied: bool, after_block: bool = False) -> dict[str, Any]:
        """How the content was seen, for the signed manifest: never a secret.

        ``proxied``: this attempt went through the proxy; ``after_block``: it did
        because the direct attempt was blocked (``proxy_on_failure_only``)."""
        shown = self.session or proxied
        out: dict[str, Any] = {"label": self.name if shown else "", "session": self.session,
                               "proxy": proxied}
        if after_block:
            out["proxy_after_blocked_direct"] = True
        if self.extractor_args:
            out["extractor_args"] = sorted(f"{ie}:{arg}" for ie, args in
                                           self.extractor_args.items() for arg in args)
        return out


BEFORE_ACCESS = "anonymous, direct (captured before access was recorded)"


def seen_as(record: object) -> str:
    """One line from an access record (``Access.record``, the manifest's
    ``collection.access``): how the content was seen. Captures made before access was
    recorded were all anonymous and direct: preserver had no other way then.

    >>> seen_as({"label": "acct-3 via de", "session": True, "proxy": True})
    'session acct-3 via de, through its proxy'
    >>> seen_as({"label": "proxy-de", "session": False, "proxy": True,
    ...          "proxy_after_blocked_direct": True, "po_token_providers": ["bgutil:http"]})
    'anonymous, through proxy proxy-de after a blocked direct try; PO tokens: bgutil:http'
    """
    if not isinstance(record, Mapping):
        return BEFORE_ACCESS
    label = str(record.get("label") or "unlabelled")
    session = record.get("session") is True
    line = f"session {label}" if session else "anonymous"
    if record.get("proxy") is True:
        line += ", through its proxy" if session else f", through proxy {label}"
        if record.get("proxy_after_blocked_direct") is True:
            line += " after a blocked direct try"
    else:
        line += ", direct"
    providers = record.get("po_token_providers")
    if isinstance(providers, list) and providers:
        line += "; PO tokens: " + ", ".join(str(p) for p in providers)
    return line
