"""A real S3 API server for the tests: moto's standalone server (``moto_server``, from
``moto[server]``), started as a process of its own on a free port of 127.0.0.1.

It stands in for a production bucket: it speaks the S3 API over HTTP, with versioning and
Object Lock (it refuses to delete a locked version, and honours ``If-None-Match: *``).
What moto 5.2 does not do, and the tests therefore cannot show here: it does not verify
``x-amz-checksum-sha256`` (it stores whatever checksum the client sends, for whole objects
and parts alike), and it ignores the Object Lock headers of ``CreateMultipartUpload``
(the store then sets the retention with ``PutObjectRetention``). It checks credentials
only when started with ``INITIAL_NO_AUTH_ACTION_COUNT=0`` (``auth=True``), against its own
IAM, where no key exists: every key is refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1"}


def moto_server_program() -> str | None:
    found = Path(sys.executable).with_name("moto_server")
    return str(found) if found.is_file() else shutil.which("moto_server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, *, auth: bool = False) -> MotoServer:
        program = moto_server_program()
        if program is None:
            raise RuntimeError("moto_server not found: pip install 'moto[server]'")
        port = free_port()
        env = {**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if auth else {})}
        proc = subprocess.Popen([program, "-H", "127.0.0.1", "-p", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return cls(process=proc, port=port)
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        proc.kill()
        raise RuntimeError(f"moto_server did not start on port {port}")

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])

    def make_bucket(self, name: str, *, lock: bool = True) -> str:
        """A new bucket; with ``lock``, created with Object Lock (and so versioning) on."""
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
        return name

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
