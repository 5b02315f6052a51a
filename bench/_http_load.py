"""The load generator of ``audit_rate.py``: a minimal HTTP/1.1 server in a process of its
own, so the audit measured does not share an interpreter (nor a GIL) with the site it
checks. Not the product, and not ``tests/support/fixture_site.py`` (a thread per
connection, ``http.server``): an asyncio protocol that answers every GET or HEAD with
one small HTML page, keeps connections alive, and does nothing else.

    python bench/_http_load.py PORT HOST [HOST ...]

Listens on ``PORT`` (0: any free one, the same for every host) of each ``HOST`` and
prints the port once every listener is up; runs until its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

BODY = b"<html><body>up</body></html>"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
            b"Connection: keep-alive\r\n\r\n" % len(BODY)) + BODY
HEAD = RESPONSE[:-len(BODY)]


class _Answer(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        out = []
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:  # requests have no body here
            request, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            out.append(HEAD if request.startswith(b"HEAD ") else RESPONSE)
        if out:
            self.transport.write(b"".join(out))


async def serve(port: int, hosts: list[str]) -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for host in hosts:
        server = await loop.create_server(_Answer, host, port, backlog=1024, reuse_address=True)
        port = server.sockets[0].getsockname()[1]
        servers.append(server)
    print(port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # the parent closes it to stop us
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2:]))
