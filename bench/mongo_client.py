"""What pymongo's async client costs this process per request, against a minimal wire client.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.mongo_client

Every storage call the services make is a pymongo request (concurrent ones coalesced), and an
invitation takes four to six of them across the services. Three ways of reading one document
by `_id` are timed in turns, `--rounds` times, each `--requests` requests one after another:

- `find_one` through pymongo's `AsyncMongoClient` (what `MongoCollection.get` sends alone);
- `database.command("find", ...)` through the same client (no cursor, no collection API);
- the same command over `MinimalWire` below: `OP_MSG` on one asyncio connection, with
  SCRAM-SHA-256 when the URI names a user. It has no TLS, pool, timeouts, retries or server
  discovery, so it is a yardstick, not a client for the services.

Printed: this process's CPU per request (user + system, `bench.cpu`), the wall time per request
(p50), and pymongo over the minimal client, all from the same run. The difference is what a
lighter client would save on every request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import statistics
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import bson
from bson.binary import Binary
from pymongo.saslprep import saslprep
from pymongo.uri_parser import parse_uri

from bench.cpu import cpu_seconds
from services.runtime.collection import Document
from services.runtime.mongo import make_client
from services.runtime.settings import ServiceSettings

OP_MSG = 2013
HEADER = struct.Struct("<iiii")  # length, request id, responding to, op code
REPLY_BODY = HEADER.size + 5  # then flag bits (4 bytes) and the section kind (1 byte)


class MinimalWire(asyncio.Protocol):
    """`OP_MSG` commands on one connection, answered by request id."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiting: dict[int, asyncio.Future[Document]] = {}
        self._last_id = 0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(exc or ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= HEADER.size:
            length, _, responding_to, _ = HEADER.unpack_from(self._buffer)
            if len(self._buffer) < length:
                return
            reply: Document = bson.decode(bytes(self._buffer[REPLY_BODY:length]))
            del self._buffer[:length]
            future = self._waiting.pop(responding_to, None)
            if future is not None and not future.done():
                future.set_result(reply)

    async def command(self, database: str, command: Document) -> Document:
        if self._transport is None:
            raise ConnectionError("the minimal client is not connected")
        self._last_id += 1
        body = b"\x00\x00\x00\x00\x00" + bson.encode({**command, "$db": database})
        header = HEADER.pack(HEADER.size + len(body), self._last_id, 0, OP_MSG)
        future: asyncio.Future[Document] = asyncio.get_running_loop().create_future()
        self._waiting[self._last_id] = future
        self._transport.write(header + body)
        reply = await future
        if reply.get("ok") != 1:
            raise RuntimeError(f"{next(iter(command))} failed: {reply.get('errmsg', reply)}")
        return reply

    async def authenticate(self, source: str, user: str, password: str) -> None:
        """SCRAM-SHA-256 (RFC 7677) through `saslStart` / `saslContinue`."""
        nonce = base64.b64encode(os.urandom(24)).decode()
        first_bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={nonce}"
        reply = await self.command(
            source,
            {
                "saslStart": 1,
                "mechanism": "SCRAM-SHA-256",
                "payload": Binary(b"n,," + first_bare.encode()),
            },
        )
        server_first = bytes(reply["payload"]).decode()
        fields = dict(part.split("=", 1) for part in server_first.split(","))
        if not fields["r"].startswith(nonce):
            raise RuntimeError("SCRAM: the server's nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac(
            "sha256", saslprep(password).encode(), base64.b64decode(fields["s"]), int(fields["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
        reply = await self.command(
            source,
            {
                "saslContinue": 1,
                "conversationId": reply["conversationId"],
                "payload": Binary(f"{without_proof},p={proof.decode()}".encode()),
            },
        )
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()
        if bytes(reply["payload"]).decode() != f"v={expected}":
            raise RuntimeError("SCRAM: the server's signature does not match")
        while not reply.get("done"):
            reply = await self.command(
                source,
                {
                    "saslContinue": 1,
                    "conversationId": reply["conversationId"],
                    "payload": Binary(b""),
                },
            )


async def connect(uri: str) -> MinimalWire:
    parsed = parse_uri(uri)
    options = parsed["options"]
    if options.get("tls") or options.get("ssl"):
        raise SystemExit(
            "bench.mongo_client: the minimal client speaks plain TCP; this URI asks for TLS"
        )
    host, port = parsed["nodelist"][0]
    _, wire = await asyncio.get_running_loop().create_connection(MinimalWire, host, port)
    if parsed["username"]:
        source = options.get("authSource") or parsed["database"] or "admin"
        try:
            await wire.authenticate(source, parsed["username"], parsed["password"] or "")
        except BaseException:
            wire.close()
            raise
    return wire


@dataclass
class Way:
    """One way of asking: CPU seconds and wall times per request over all its rounds."""

    name: str
    ask: Callable[[], Awaitable[Document | None]]
    cpu: float = 0.0
    walls: list[float] = field(default_factory=list)

    async def run(self, requests: int, key: str) -> None:
        before = cpu_seconds(os.getpid())
        for _ in range(requests):
            started = time.perf_counter()
            found = await self.ask()
            self.walls.append(time.perf_counter() - started)
            if found is None or found.get("_id") != key:
                raise RuntimeError(f"{self.name}: read {found!r}, not the document {key!r}")
        self.cpu += cpu_seconds(os.getpid()) - before

    def cpu_us(self) -> float:
        return self.cpu / len(self.walls) * 1e6

    def wall_ms(self) -> float:
        return statistics.median(self.walls) * 1e3


async def main(requests: int, rounds: int) -> None:
    uri = ServiceSettings().mongodb_uri.get_secret_value()
    database = f"bench_client_{uuid.uuid4().hex[:8]}"
    wire = await connect(uri)
    client = make_client(uri)
    db = client[database]
    key = "one-document"
    find = {"find": "docs", "filter": {"_id": key}, "limit": 1, "singleBatch": True}

    async def first_of(reply: Awaitable[Document]) -> Document | None:
        batch: list[Document] = (await reply)["cursor"]["firstBatch"]
        return batch[0] if batch else None

    ways = [
        Way("pymongo find_one", lambda: db["docs"].find_one({"_id": key})),
        Way(
            "pymongo database.command(find)",
            lambda: first_of(
                db.command("find", "docs", filter={"_id": key}, limit=1, singleBatch=True)
            ),
        ),
        Way("minimal OP_MSG client", lambda: first_of(wire.command(database, find))),
    ]
    try:
        await db["docs"].insert_one({"_id": key, "body": "x" * 300})
        for way in ways:  # connections open and code warm before anything is timed
            await way.run(50, key)
            way.cpu, way.walls = 0.0, []
        for _ in range(rounds):
            for way in ways:
                await way.run(requests, key)
    finally:
        wire.close()
        await client.drop_database(database)
        await client.close()
    if any(way.cpu == 0 for way in ways):
        raise SystemExit(
            "bench.mongo_client: too few requests to see their CPU (the kernel counts it in "
            "10 ms ticks); raise --requests"
        )
    print(f"one document read by _id, {rounds} rounds of {requests} requests each, in turns:")
    print(f"{'way':34} {'CPU us/request':>15} {'wall p50 ms':>12}")
    for way in ways:
        print(f"{way.name:34} {way.cpu_us():15.0f} {way.wall_ms():12.3f}")
    minimal = ways[-1]
    print("ratios (same run; this process's CPU, and the wall p50):")
    for way in ways[:-1]:
        print(
            f"  {way.name} / {minimal.name} = {way.cpu_us() / minimal.cpu_us():5.2f}x CPU, "
            f"{way.wall_ms() / minimal.wall_ms():5.2f}x wall"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per way and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the ways in turns")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
