"""``workers._ytdlp_cache``: what the capture server makes once for every child. These
tests fail when yt-dlp changes the internals it leans on (docs/yt-dlp.md)."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from yt_dlp import YoutubeDL
from yt_dlp.networking import common

from tests.support.tls import make_pki
from workers import _ytdlp_cache


def test_the_cached_extractors_are_yt_dlps_defaults_in_order() -> None:
    with YoutubeDL({"quiet": True}) as stock, YoutubeDL({"quiet": True}, auto_init=False) as ours:
        _ytdlp_cache.add_default_extractors(ours)
        assert list(ours._ies) == list(stock._ies)
        assert len(ours._ies) > 1000
        assert [type(ie) if not isinstance(ie, type) else ie for ie in ours._ies.values()] == [
            type(ie) if not isinstance(ie, type) else ie for ie in stock._ies.values()]


def test_request_handlers_share_one_tls_context_per_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "make_ssl_context", common.make_ssl_context)  # undone after
    _ytdlp_cache.install_tls_cache()
    from yt_dlp.networking._requests import RequestsRH

    quiet = logging.getLogger("test")
    first, second = RequestsRH(logger=quiet), RequestsRH(logger=quiet)
    try:
        shared = first._make_sslcontext()
        assert isinstance(shared, ssl.SSLContext) and shared.verify_mode == ssl.CERT_REQUIRED
        assert second._make_sslcontext() is shared
        assert first._make_sslcontext(legacy_ssl_support=True) is not shared  # another setting
        assert shared.get_ca_certs()  # the roots were loaded
    finally:
        first.close()
        second.close()


def test_a_client_certificate_context_is_never_shared(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    cert, key = str(pki.directory / "self.pem"), str(pki.directory / "self.key")
    one = _ytdlp_cache._cached_make_ssl_context(client_certificate=cert,
                                                client_certificate_key=key)
    two = _ytdlp_cache._cached_make_ssl_context(client_certificate=cert,
                                                client_certificate_key=key)
    assert one is not two
    assert one is not _ytdlp_cache._cached_make_ssl_context()


def test_the_dry_run_works_with_this_yt_dlp(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="workers._ytdlp_cache")
    _ytdlp_cache._dry_run()  # raises if yt-dlp stopped accepting it
    assert not caplog.records
