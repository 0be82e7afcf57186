"""All four services as separate OS processes (python -m services.<name>) on the real stack,
driven only through Kafka and HTTP as a gateway would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.http import UserStatus
from contracts.topics import ACCESS, INVITATIONS_LINKS, PUBLIC_EVENT_TOPICS
from pro_team_client import ServiceUrls, TeamApi, TeamClient
from services.runtime.kafka_access import KafkaAccess
from tests.http_clients import local_client
from tests.kafka_tools import Gateway, Tap, close_tap, open_tap, position_group_at_end
from tests.mailpit import Mailbox
from tests.processes import ServiceProcess, free_port
from tests.servers import Servers

SERVICES = ("invitations", "membership", "notifications", "access_control")
CONSUMES = {name: list(ACCESS[name].consumes) for name in SERVICES}
ACCEPT_BASE = "https://app.example.test"


@dataclass
class System:
    processes: dict[str, list[ServiceProcess]]
    gateway: Gateway
    taps: dict[str, Tap]
    mailbox: Mailbox
    api_token: str
    unique: str
    admin: KafkaAccess  # the tests' super user (DLQs, private topics)
    links: Tap  # invitations.links read as the admin: what reaches the invitees' mailboxes
    team: TeamClient  # the client package, as the gateway principal
    api: TeamApi  # the client package's HTTP side
    extra: dict[str, Any] = field(default_factory=dict)

    async def token_for(self, invitation_id: str, timeout: float = 60) -> str:
        """The newest accept token issued for the invitation (as its email carries it)."""
        issued = await self.links.wait_for(
            lambda e: e["data"]["invitation_id"] == invitation_id, timeout
        )
        return str(issued[-1]["data"]["accept_token"])

    def port(self, service: str) -> int:
        return self.processes[service][0].port

    async def get(self, service: str, path: str) -> httpx.Response:
        async with local_client(f"http://127.0.0.1:{self.port(service)}", timeout=10) as c:
            return await c.get(path, headers={"Authorization": f"Bearer {self.api_token}"})

    async def users(self, account: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every row of the Users page (through the client package, page after page)."""
        wanted = None if status is None else UserStatus(status)
        return [row.model_dump(mode="json") async for row in self.api.users(account, wanted)]

    async def visible(self, account: str, member: str) -> list[str]:
        return await self.api.visible_clients(account, member)

    async def eventually(self, check: Any, timeout: float = 60) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                result = await check()
                if result:
                    return result
            except AssertionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met in {timeout}s")
            await asyncio.sleep(0.2)


async def start_system(
    servers: Servers,
    unique: str,
    tmp: Path,
    instances: int = 1,
    extra_env: dict[str, str] | None = None,
    measuring: bool = False,
) -> System:
    """`measuring`: for a benchmark sharing the machine with the services it times. Its taps
    fetch in batches, and the kit's client, which would read and parse every outcome, is not
    started (`team.send` is then unusable)."""
    token = f"token-{unique}"
    processes: dict[str, list[ServiceProcess]] = {}
    for name, topics in CONSUMES.items():
        group = f"{name}-e2e-{unique}"
        await position_group_at_end(servers.kafka, group, topics)
        env = {
            **servers.as_principal(name).env(),  # each service as its own principal
            "MONGODB_DB": f"{name}_e2e_{unique}",
            "KAFKA_GROUP_ID": group,
            "API_TOKEN": token,
            "ACCEPT_URL_BASE": ACCEPT_BASE,
            "OUTBOX_SWEEP_SECONDS": "1",
            **(extra_env or {}),
        }
        processes[name] = [
            ServiceProcess(name, {**env, "HTTP_PORT": str(free_port())}, tmp / f"{name}-{i}.log")
            for i in range(instances)
        ]
    started = [process for copies in processes.values() for process in copies]
    try:
        for process in started:
            process.start()
        for process in started:
            await process.wait_ready()
    except BaseException:
        # Services left running would consume the shared command topics as a second
        # deployment and answer the next tests' commands from their own databases.
        for process in started:
            process.stop()
        raise
    gateway = servers.as_principal("gateway")  # commands in, public events out: nothing else
    producer = AIOKafkaProducer(**gateway.aiokafka(), acks="all")
    await producer.start()
    taps = {t: await open_tap(gateway, t, batched=measuring) for t in PUBLIC_EVENT_TOPICS}
    team = TeamClient(gateway)
    if not measuring:
        await team.start()
    urls = {name: f"http://127.0.0.1:{processes[name][0].port}" for name in SERVICES}
    api = TeamApi(
        ServiceUrls(urls["invitations"], urls["membership"], urls["access_control"]), token
    )
    return System(
        processes,
        Gateway(producer),
        taps,
        Mailbox(servers.mailpit_url),
        token,
        unique,
        servers.kafka,
        await open_tap(servers.kafka, INVITATIONS_LINKS, batched=measuring),
        team,
        api,
    )


async def stop_system(system: System) -> None:
    for tap in [*system.taps.values(), system.links]:
        await close_tap(tap)
    await system.gateway.producer.stop()
    await system.team.stop()
    await system.api.close()
    for group in system.processes.values():
        for process in group:
            process.stop()


@pytest.fixture
async def system(servers: Servers, unique: str, tmp_path: Path) -> AsyncIterator[System]:
    running = await start_system(servers, unique, tmp_path)
    try:
        yield running
    finally:
        await stop_system(running)
