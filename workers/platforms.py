"""The platform table: which hosts belong to YouTube and Facebook, and in what role.

This is the one place platform hosts are listed. Link extraction (which bare
hosts a report may cite without a scheme, where a URL glued to Arabic text
ends), canonical target keys (``preserver.ingest.targets``) and politeness
(``workers.limits.host_group``) all read it, so a host cannot count as Facebook
for the key and as a host of its own for the rate limit.

Each row names a domain; it covers the domain and every subdomain (``www.``,
``m.``, ``music.``, ``gaming.``, ``web.``, ``mbasic.``, ``rr3---sn-….`` …),
unless the row is ``subdomains=False``. A host's role says what a URL on it is:

- ``SITE``: the platform's pages; the path and query name the item
  (``youtube.com/watch?v=<id>``, ``facebook.com/<owner>/posts/<id>``);
- ``SHORT``: short links; the path is the id (``youtu.be/<id>``) or only a
  capture can resolve it (``fb.watch/…``, ``fb.me/…``);
- ``MEDIA``: the platform's file and image servers. Reports do not cite them
  and their URLs name no target (a cited one is a ``web:`` target), but the
  platform counts their traffic, so they share its politeness group.

All hosts of a platform form one politeness group, named after the platform;
any other host is platform ``web`` and its own group. Canonical URLs point at
one host per platform (``platform_url``).

>>> platform_of("M.YouTube.com"), politeness_group("fb.me"), politeness_group("example.org")
(<Platform.YOUTUBE: 'youtube'>, 'facebook', 'example.org')
>>> platform_host("music.youtube.com").role
<HostRole.SITE: 'site'>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "PLATFORM_HOSTS",
    "HostRole",
    "Platform",
    "PlatformHost",
    "cited_hosts",
    "platform_host",
    "platform_of",
    "platform_url",
    "politeness_group",
    "youtube_watch_url",
]


class Platform(enum.StrEnum):
    """Where a target lives; a ``str``, so ``Platform.YOUTUBE == "youtube"``."""

    YOUTUBE = "youtube"
    FACEBOOK = "facebook"
    WEB = "web"


class HostRole(enum.StrEnum):
    """What a URL on a platform host is (see the module docstring)."""

    SITE = "site"
    SHORT = "short"
    MEDIA = "media"


@dataclass(frozen=True, kw_only=True)
class PlatformHost:
    """One row of the table: ``domain`` (and its subdomains) belongs to ``platform``."""

    domain: str  # lower case ASCII, no trailing dot
    platform: Platform  # never WEB
    role: HostRole
    subdomains: bool = True  # False: the domain itself only

    @property
    def cited(self) -> bool:
        """Whether reports cite URLs on this host as the platform's (not ``MEDIA``)."""
        return self.role is not HostRole.MEDIA

    @property
    def group(self) -> str:
        """The politeness group: every host of a platform shares the platform's."""
        return self.platform.value


_YT, _FB = Platform.YOUTUBE, Platform.FACEBOOK
_SITE, _SHORT, _MEDIA = HostRole.SITE, HostRole.SHORT, HostRole.MEDIA

PLATFORM_HOSTS: tuple[PlatformHost, ...] = (
    PlatformHost(domain="youtube.com", platform=_YT, role=_SITE),
    PlatformHost(domain="youtube-nocookie.com", platform=_YT, role=_SITE),
    PlatformHost(domain="youtubekids.com", platform=_YT, role=_SITE),
    # googleapis.com is Google's API host at large; only this one name is YouTube's
    PlatformHost(domain="youtube.googleapis.com", platform=_YT, role=_SITE, subdomains=False),
    PlatformHost(domain="youtu.be", platform=_YT, role=_SHORT),
    PlatformHost(domain="googlevideo.com", platform=_YT, role=_MEDIA),
    PlatformHost(domain="ytimg.com", platform=_YT, role=_MEDIA),
    PlatformHost(domain="facebook.com", platform=_FB, role=_SITE),
    PlatformHost(domain="fb.com", platform=_FB, role=_SITE),
    # Facebook's onion service (https://facebook.com/onion)
    PlatformHost(
        domain="facebookwkhpilnemxj7asaniu7vnjjbiltxjqhye3mhbshg7kx5tfyd.onion",
        platform=_FB,
        role=_SITE,
    ),
    PlatformHost(domain="fb.watch", platform=_FB, role=_SHORT),
    PlatformHost(domain="fb.me", platform=_FB, role=_SHORT),
    PlatformHost(domain="fbcdn.net", platform=_FB, role=_MEDIA),
)

_BY_DOMAIN = {row.domain: row for row in PLATFORM_HOSTS}


def _normal(host: str) -> str:
    return host.strip().rstrip(".").lower()


def platform_host(host: str) -> PlatformHost | None:
    """The table row ``host`` falls under, or ``None`` for a web host.

    ``host`` is a hostname: case and a trailing dot do not matter; it carries
    no port, brackets or userinfo (``workers.limits.host_group`` takes URLs).
    """
    labels = _normal(host).split(".")
    for start in range(len(labels)):
        row = _BY_DOMAIN.get(".".join(labels[start:]))
        if row is not None and (start == 0 or row.subdomains):
            return row
    return None


def platform_of(host: str) -> Platform:
    """The platform a hostname belongs to: ``youtube``, ``facebook``, else ``web``."""
    row = platform_host(host)
    return Platform.WEB if row is None else row.platform


def politeness_group(host: str) -> str:
    """The politeness group of a hostname: its platform's, else the host (normalized)."""
    row = platform_host(host)
    return _normal(host) if row is None else row.group


def cited_hosts() -> tuple[PlatformHost, ...]:
    """The rows reports cite (``SITE`` and ``SHORT``), in table order."""
    return tuple(row for row in PLATFORM_HOSTS if row.cited)


# Where canonical URLs point: every cited form of an item is captured from here.
_CANONICAL_ORIGINS = {
    Platform.YOUTUBE: "https://www.youtube.com",
    Platform.FACEBOOK: "https://www.facebook.com",
}


def platform_url(platform: Platform, path: str) -> str:
    """``path`` (with query) on the platform's canonical host; ``ValueError`` for ``web``.

    >>> platform_url(Platform.FACEBOOK, "/watch/?v=1")
    'https://www.facebook.com/watch/?v=1'
    """
    origin = _CANONICAL_ORIGINS.get(platform)
    if origin is None:
        raise ValueError(f"platform {str(platform)!r} has no canonical host")
    return origin + path


def youtube_watch_url(video_id: str) -> str:
    """The canonical URL of a YouTube video: every form of it is captured from here."""
    return platform_url(Platform.YOUTUBE, f"/watch?v={video_id}")
