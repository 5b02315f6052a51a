"""The S3 store's settings, its boto3 client, and the one place botocore errors are translated.

Every call the S3 store makes to the bucket runs inside ``s3_errors(...)``: no botocore or
urllib3 exception leaves the store. What the bucket answers becomes ``BlobNotFound`` (no
such key, when reading), ``UploadRefused`` (the bytes did not match the checksum sent with them) or
``StorageUnavailable`` (unreachable, no such bucket, credentials missing or refused, any
other refusal); each message is one line naming the bucket and the fix where there is one.

Credentials come from boto3's standard chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE`` and ``~/.aws``, container and instance roles): never from preserver's own
configuration, so no config dump or error can show a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from storage.errors import BlobNotFound, StorageUnavailable, UploadRefused
from storage.retention import Retention

log = logging.getLogger(__name__)

LockMode = Literal["COMPLIANCE", "GOVERNANCE"]
LOCK_MODES: tuple[LockMode, ...] = ("COMPLIANCE", "GOVERNANCE")
MIN_PART_SIZE = 5 * 1024**2  # S3: every part but the last is at least 5 MiB
MAX_PART_SIZE = 5 * 1024**3  # and at most 5 GiB
MAX_PARTS = 10_000

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})
_NO_BUCKET = frozenset({"NoSuchBucket"})
_CREDENTIALS = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                          "InvalidToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed"})
_CORRUPTED = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch",
                        "InvalidChecksum"})


@dataclass(frozen=True, kw_only=True)
class S3Settings:
    """Where the blobs go and how they are locked (``[storage]`` in config.toml).

    ``part_size``: uploads larger than this go up as multipart uploads of parts this
    large; one part is held in memory at a time (5 MiB to 5 GiB).
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    lock_mode: LockMode = "COMPLIANCE"
    retention: Retention = field(default_factory=lambda: Retention(years=10))
    part_size: int = 16 * 1024**2

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("an S3 store needs a bucket")
        if self.lock_mode not in LOCK_MODES:
            raise ValueError(f"object_lock_mode must be COMPLIANCE or GOVERNANCE, "
                             f"not {self.lock_mode!r}")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be 5 MiB to 5 GiB, not {self.part_size}")

    @property
    def key_prefix(self) -> str:
        """``prefix`` as it starts every key: empty, or ending in one ``/``."""
        text = self.prefix.strip("/")
        return f"{text}/" if text else ""

    @property
    def where(self) -> str:
        """``s3://bucket/prefix`` at the endpoint, for messages."""
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.key_prefix}{at}"


#: connections the client keeps: as many as ``asyncio.to_thread`` runs threads (its default
#: executor has at most 32), so concurrent puts and reads never exceed the pool
POOL_SIZE = 32


def make_client(settings: S3Settings, *, pool: int = POOL_SIZE) -> Any:
    """A boto3 S3 client (thread-safe; the store holds one). Path-style addressing when an
    endpoint is given (MinIO, Ceph, moto and most S3-compatible servers want it); botocore
    retries a failed request twice with backoff, then the error is the caller's."""
    config = BotoConfig(
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10, read_timeout=60, max_pool_connections=pool,
        # the store sends its own SHA-256 checksum; nothing else is computed per request
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=settings.endpoint_url or None,
                              region_name=settings.region or None, config=config)
    except (BotoCoreError, ValueError) as exc:  # ValueError: an endpoint it cannot parse
        raise StorageUnavailable(f"cannot use bucket {settings.where} (check [storage] "
                                 f"endpoint_url and region): {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (botocore's parameter errors span several)."""
    return " ".join(str(exc).split())


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def s3_errors(settings: S3Settings, action: str, *, sha256: str = "") -> Iterator[None]:
    """Run one request of ``action`` (``"read"``, ``"upload"`` …), translating its errors."""
    where = settings.where
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = " ".join(str(exc.response.get("Error", {}).get("Message") or code).split())
        if code in _NO_BUCKET or (action == "open" and (status == 404 or code in _NOT_FOUND)):
            raise StorageUnavailable(f"bucket {where} does not exist: create it with Object "
                                     "Lock enabled, or fix [storage] bucket") from exc
        if action == "read" and sha256 and (code in _NOT_FOUND or status == 404):
            raise BlobNotFound(f"no blob {sha256} in {where}") from exc
        if code in _CREDENTIALS:
            raise StorageUnavailable(f"bucket {where} refused the credentials ({code}): check "
                                     "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS "
                                     "profile") from exc
        if code in _CORRUPTED:
            raise UploadRefused(f"bucket {where} refused the upload of {sha256 or 'a blob'}: "
                                f"its bytes did not match their checksum ({code})") from exc
        if code in ("AccessDenied", "403") or status == 403:
            raise StorageUnavailable(f"bucket {where} refused access ({action}: {code} "
                                     f"{message}): check the AWS credentials and their "
                                     "permissions on the bucket") from exc
        raise StorageUnavailable(f"bucket {where}: {action} failed: {code or status}: "
                                 f"{message}") from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise StorageUnavailable(f"no AWS credentials for bucket {where}: set "
                                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS "
                                 "profile") from exc
    except EndpointConnectionError as exc:
        raise StorageUnavailable(f"cannot reach bucket {where}: {_one_line(exc)}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"bucket {where}: {action} failed: {_one_line(exc)}") from exc
