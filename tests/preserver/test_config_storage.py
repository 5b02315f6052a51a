"""``[storage]``: the backend and the bucket's settings, each bad value one line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from preserver.config import load_config
from preserver.errors import ConfigError
from storage.retention import Retention


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env=env or {})


def test_local_is_the_default(tmp_path: Path) -> None:
    cfg = load_config(None, env={})
    assert cfg.storage.backend == "local"
    assert cfg.storage.retention == Retention(years=10)
    assert cfg.storage.object_lock_mode == "COMPLIANCE"
    assert cfg.storage.part_size == 16 << 20


def test_an_s3_bucket(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[storage]\nbackend = "s3"\nendpoint_url = "http://127.0.0.1:9000"\n'
                         'bucket = "evidence.archive-1"\nprefix = "team/a"\nregion = "eu-west-1"'
                         '\nobject_lock_mode = "GOVERNANCE"\nretention = "3650d"\n'
                         'part_size = "16MiB"\n')
    s = cfg.storage  # type: ignore[attr-defined]
    assert (s.backend, s.bucket, s.prefix, s.region, s.object_lock_mode, s.part_size) == (
        "s3", "evidence.archive-1", "team/a", "eu-west-1", "GOVERNANCE", 16 << 20)
    assert s.retention == Retention(days=3650)


def test_environment_overrides(tmp_path: Path) -> None:
    cfg = load(tmp_path, "", env={"PRESERVER_STORAGE_BACKEND": "s3",
                                  "PRESERVER_STORAGE_BUCKET": "evidence",
                                  "PRESERVER_STORAGE_RETENTION": "7y"})
    assert cfg.storage.bucket == "evidence"  # type: ignore[attr-defined]
    assert cfg.storage.retention == Retention(years=7)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "message"), [
    ('backend = "S3"', r"storage\.backend: expected one of 'local', 's3', got 'S3'"),
    ('backend = "s3"', r'storage\.bucket: backend = "s3" needs a bucket'),
    ('object_lock_mode = "compliance"',
     r"storage\.object_lock_mode: expected one of 'COMPLIANCE', 'GOVERNANCE'"),
    ('object_lock_mode = "NONE"', r"storage\.object_lock_mode: expected one of"),
    ('retention = "10 years"', r"storage\.retention: expected a retention like '10y'"),
    ('retention = "0y"', r"storage\.retention: a retention must be longer than zero"),
    ('retention = "1000y"', r"storage\.retention: a retention may not exceed 100 years"),
    ("retention = 10", r"storage\.retention: expected a string, got 10"),
    ('bucket = "Evidence_Bucket"', r"storage\.bucket: 'Evidence_Bucket' is not an S3 bucket"),
    ('bucket = "ab"', r"storage\.bucket: 'ab' is not an S3 bucket name"),
    ('endpoint_url = "minio:9000"', r"storage\.endpoint_url: expected an http\(s\) URL"),
    ('endpoint_url = "http://minio 9000"', r"storage\.endpoint_url: expected an http\(s\) URL"),
    ('endpoint_url = "http://[::1"', r"storage\.endpoint_url: 'http://\[::1' is not a URL"),
    ('endpoint_url = "http://minio:port"', r"storage\.endpoint_url: .* is not a URL"),
    ('retention = "0d"', r"storage\.retention: a retention must be longer than zero, got '0d'"),
    ('retention = "101y"', r"storage\.retention: .* not exceed 100 years, got '101y'"),
    ('part_size = "1MiB"', r"storage\.part_size: must be 5MiB to 5GiB"),
    ('prefix = "/abs"', r"storage\.prefix: must be relative"),
    ('prefix = "a/../b"', r"storage\.prefix: must be relative, without '\.\.'"),
    ('bukket = "x"', r"unknown configuration key: storage\.bukket"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, f"[storage]\n{text}\n")
    assert "\n" not in str(info.value) and str(tmp_path / "config.toml") in str(info.value)


@pytest.mark.parametrize("env", [False, True], ids=["file", "environment"])
def test_an_endpoint_with_credentials_is_refused_without_showing_them(tmp_path: Path,
                                                                      env: bool) -> None:
    """Every message about the bucket names its endpoint: a key in it would be printed."""
    url = "http://AKIAEXAMPLE:wJalrXUtnFEMI@minio:9000"
    with pytest.raises(ConfigError, match=r"endpoint_url\)?: must not carry credentials") as info:
        if env:
            load(tmp_path, "", env={"PRESERVER_STORAGE_ENDPOINT_URL": url})
        else:
            load(tmp_path, f'[storage]\nendpoint_url = "{url}"\n')
    assert "wJalrXUtnFEMI" not in str(info.value) and "AKIAEXAMPLE" not in str(info.value)


@pytest.mark.parametrize(("start", "text", "end"), [
    (datetime(2026, 11, 27, 12, 30, tzinfo=UTC), "10y", datetime(2036, 11, 27, 12, 30, tzinfo=UTC)),
    (datetime(2024, 2, 29, tzinfo=UTC), "1y", datetime(2025, 3, 1, tzinfo=UTC)),
    (datetime(2024, 2, 29, tzinfo=UTC), "4y", datetime(2028, 2, 29, tzinfo=UTC)),
    (datetime(2026, 12, 31, tzinfo=UTC), "1d", datetime(2027, 1, 1, tzinfo=UTC)),
    (datetime(2026, 1, 1, tzinfo=UTC), " 30 d ", datetime(2026, 1, 31, tzinfo=UTC)),
])
def test_retention_ends_calendar_years_later(start: datetime, text: str, end: datetime) -> None:
    assert Retention.parse(text).until(start) == end


@pytest.mark.parametrize("text", ["", "10", "y", "-1y", "1.5y", "10m", "1y2d", "9999999y",
                                  "1e3d", "\u0661\u0660y", "+5y", "10Y"])
def test_bad_retentions(text: str) -> None:
    with pytest.raises(ValueError, match="retention"):
        Retention.parse(text)
