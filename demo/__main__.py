"""python -m demo [--exit] | python -m demo down

Brings up the stack (docker compose where a Docker engine answers, else the local stack of
real servers), starts the four services and the reference web gateway (http://127.0.0.1:8080),
plays the seed story step by step, then leaves everything running until Ctrl-C (or `make down`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from contracts import messages as m
from contracts.common import Locale, Role
from contracts.envelope import MessageData
from contracts.topics import command_topic
from demo import bounce, processes
from demo.processes import GATEWAY_PORT, SERVICES
from pro_team_client import Event, Outcome, TeamApi, TeamClient
from services.runtime.kafka_access import KafkaAccess
from stack import config, servers
from stack.__main__ import main as stack_main
from stack.children import die_with_parent, exit_on_signals

# The broker's SCRAM listener is published for the story, which plays the gateway.
GATEWAY_URL = f"http://127.0.0.1:{GATEWAY_PORT}"
COMPOSE = ["docker", "compose", "-f", "docker-compose.yml", "-f", "docker-compose.dev.yml"]


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


# What this run started (an interrupted demo stops exactly that, and leaves what it found).
STARTED: dict[str, list[str]] = {"servers": [], "services": []}


def bring_up() -> tuple[KafkaAccess, str, str]:
    """Returns (the gateway's broker access, mailpit web URL, mode)."""
    if docker_answers():
        print("A Docker engine answers: using docker compose (docker-compose.yml).")
        subprocess.run(["scripts/compose-secrets.sh"], check=True, cwd=config.REPO)
        subprocess.run([*COMPOSE, "up", "-d", "--build", "--wait"], check=True, cwd=config.REPO)
        secrets = dict(
            line.split("=", 1) for line in (config.REPO / ".env").read_text().splitlines() if line
        )
        gateway = KafkaAccess(
            "localhost:9094",
            "SASL_PLAINTEXT",
            "SCRAM-SHA-512",
            "gateway",
            secrets["GATEWAY_KAFKA_PASSWORD"],
        )
        os.environ["API_TOKEN"] = secrets.get("API_TOKEN", "")  # the query APIs want it
        return gateway, "http://localhost:8025", "docker"
    missing = [tool for tool in ("java", "mvn", "go") if shutil.which(tool) is None]
    if missing:
        sys.exit(
            "No Docker engine answers and the local stack needs "
            + ", ".join(missing)
            + " on PATH.\nInstall them (Debian: apt-get install "
            "openjdk-17-jre-headless maven golang; Go must be >= 1.24) or start Docker, then rerun "
            "`make demo`."
        )
    print("No Docker engine here: using the local stack of real servers (python -m stack).")
    cfg = config.load()
    STARTED["servers"].extend(s for s in servers.SERVERS if servers.running_pid(cfg, s) is None)
    if stack_main(["up"]) != 0:
        sys.exit(1)
    smtp_port, mailpit = bounce.start(cfg)
    STARTED["servers"].append("demo-mailpit")
    print(f"The demo's mail server: {mailpit} (mail to *@bounce.example is refused with a 5xx)")
    print("\nStarting the four services, each as its own broker principal, and the web gateway:")
    envs = {name: {**cfg.env(), **servers.kafka_access(cfg, name).env()} for name in SERVICES}
    envs["notifications"]["SMTP_PORT"] = str(smtp_port)
    # The reference web gateway: only the gateway principal, and the services' HTTP APIs.
    envs["gateway"] = servers.kafka_access(cfg, "gateway").env()
    processes.start_all(cfg, envs, STARTED["services"])
    print("The story below is played as the `gateway` principal: commands in, public events out.")
    return servers.kafka_access(cfg, "gateway"), mailpit, "local"


class Story:
    """The seed story, played as a gateway plays it: only through the client package."""

    def __init__(self, access: KafkaAccess, bounces: bool = True) -> None:
        self.bounces = bounces  # the mail server refuses *@bounce.example (local stack)
        self.team = TeamClient(access)
        self.api = TeamApi(api_token=os.environ.get("API_TOKEN", ""))
        self.account = f"acct-demo-{uuid.uuid4().hex[:6]}"
        self.owner = "user-olive"
        self.seen: list[Event] = []

    async def start(self) -> None:
        await self.team.start()
        self._tail = self.team.tail()
        events = await self._tail.__aenter__()
        self.pump = asyncio.create_task(self._print_events(events))

    async def stop(self) -> None:
        self.pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.pump
        await self._tail.__aexit__(None, None, None)
        await self.team.stop()
        await self.api.close()

    async def _print_events(self, events: AsyncIterator[Event]) -> None:
        async for event in events:
            if event.envelope.accountid != self.account:
                continue
            self.seen.append(event)
            data = json.dumps(event.envelope.data)[:110]
            print(f"      \033[2m<- {event.topic:22} {event.type:24} {data}\033[0m")

    async def do(self, command: MessageData, actor: str | None = None) -> Outcome:
        """Send a command and wait for its outcome, as the accept page and the admin screens
        do (by `causationid`)."""
        print(f"\n   -> {command_topic(type(command)):22} {type(command).__name__}", end=" ")
        print(command.model_dump_json(exclude_none=True)[:100])
        return await self.team.request(command, account_id=self.account, actor_id=actor)

    async def wait_event(self, predicate: Any, timeout: float = 30) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.seen:
                if predicate(event):
                    return event
            await asyncio.sleep(0.1)
        raise SystemExit("an expected event did not arrive")

    async def users_table(self) -> None:
        await asyncio.sleep(0.7)
        print("\n   Users page")
        print(f"   {'email':30} {'status':13} {'roles':32} {'member_id':11} email / tags")
        async for u in self.api.users(self.account):
            roles = ", ".join(u.roles)
            print(f"   {u.email:30} {u.status.value:13} {roles:32} {u.member_id!s:11}", end="")
            email = "" if u.email_status is None else u.email_status.value
            failure = f" ({u.email_failure[:40]})" if u.email_failure else ""
            tags = f" tags {u.security_tags}" if u.security_tags else ""
            print(f" {email}{failure}{tags}")

    async def visibility_table(self, members: list[str]) -> None:
        await asyncio.sleep(0.7)
        print("\n   Visibility")
        for member in members:
            clients = await self.api.visible_clients(self.account, member)
            print(f"   {member:14} sees {clients}")

    async def play(self, mailpit: str) -> None:
        step = iter(range(1, 100))
        print(f"\n== {next(step)}. Register the Pro account {self.account}")
        registration = m.RegisterProAccount(
            account_name="Sunrise Health",
            owner_user_id=self.owner,
            owner_email="olive@sunrise.example",
            owner_name="Olive Owner",
        )
        (await self.do(registration, self.owner)).accepted()
        await self.wait_event(lambda e: e.type == "MemberJoined")
        await self.users_table()

        print(f"\n== {next(step)}. Invite a practitioner with a custom message")
        invite = m.InviteTeamMember(
            email="Ann.Coach@Example.com",
            roles=[Role.PRACTITIONER],
            message="Welcome aboard!\nWe start Monday at 9.",
            inviter_name="Olive Owner",
            invitee_name="Ann Coach",
        )
        created = (await self.do(invite, self.owner)).accepted().data
        assert isinstance(created, m.InvitationCreated)
        await self.users_table()
        email = await self.wait_event(lambda e: e.type == "EmailSent")
        assert isinstance(email.data, m.EmailSent)
        print(f"\n   The invitation email is in Mailpit: {mailpit}  (to {email.data.to})")

        print(f"\n== {next(step)}. Ann opens the link: the accept page looks the invitation up")
        token = await accept_token_from_email(mailpit, email.data.to)
        found = await self.api.look_up_invitation(self.account, created.invitation_id, token)
        assert found is not None
        print(
            f"   {found.inviter_name} invites {found.email_masked} to {found.account_name}", end=""
        )
        print(f" as {', '.join(found.roles)} ({found.status.value}, until {found.expires_at})")

        print(f"\n== {next(step)}. Ann presses Accept Invitation (the gateway sends the token)")
        accept = m.AcceptInvitation(
            invitation_id=created.invitation_id,
            token=token,
            user_id="user-ann",
            email="ann.coach@example.com",
            name="Ann Coach",
        )
        accepted = await self.do(accept)
        print(f"   outcome: {accepted.type}")
        accepted.accepted()
        await self.wait_event(
            lambda e: e.type == "MemberJoined" and getattr(e.data, "member_id", "") == "user-ann"
        )
        await self.users_table()

        print(
            f"\n== {next(step)}. Tag clients and Ann: she sees only clients sharing one of her tags"
        )
        for client, tags in (
            ("kid-001", ["Kids"]),
            ("kid-002", ["kids", "Sport"]),
            ("adult-001", ["Adults"]),
        ):
            registered = m.RegisterClient(client_id=client, security_tags=tags)
            print(f"   outcome: {(await self.do(registered, self.owner)).accepted().type}")
        tagged = m.SetMemberSecurityTags(member_id="user-ann", security_tags=["KIDS"])
        print(f"   outcome: {(await self.do(tagged, self.owner)).accepted().type}")
        await self.visibility_table([self.owner, "user-ann"])

        print(f"\n== {next(step)}. Invite Bob, try to resend at once (rate limited), then revoke")
        bob_invite = m.InviteTeamMember(
            email="bob@example.com", roles=[Role.PRACTITIONER, Role.BILLING_ADMINISTRATOR]
        )
        bob = (await self.do(bob_invite, self.owner)).accepted().data
        assert isinstance(bob, m.InvitationCreated)
        await self.users_table()
        resent = await self.do(m.ResendInvitation(invitation_id=bob.invitation_id), self.owner)
        print(f"   resend: {resent.type} ({resent.reason})")
        await self.do(m.RevokeInvitation(invitation_id=bob.invitation_id), self.owner)
        await self.users_table()

        print(f"\n== {next(step)}. Invite a restricted practitioner: her tags apply as she joins")
        kim = m.InviteTeamMember(
            email="kim@example.com",
            roles=[Role.PRACTITIONER],
            security_tags=["Adults"],
            locale=Locale.ES,
            invitee_name="Kim",
        )
        kim_invitation = (await self.do(kim, self.owner)).accepted().data
        assert isinstance(kim_invitation, m.InvitationCreated)
        kim_email = await self.wait_event(
            lambda e: e.type == "EmailSent" and getattr(e.data, "to", "") == "kim@example.com"
        )
        assert isinstance(kim_email.data, m.EmailSent)
        print("   (her email is in Spanish: the invitation asked for es)")
        await self.users_table()  # her pending row shows the tags she will have
        kim_token = await accept_token_from_email(mailpit, "kim@example.com")
        joined = m.AcceptInvitation(
            invitation_id=kim_invitation.invitation_id,
            token=kim_token,
            user_id="user-kim",
            email="kim@example.com",
        )
        (await self.do(joined)).accepted()
        await self.visibility_table(["user-kim"])

        print(f"\n== {next(step)}. Invite a whole team at once; one address bounces")
        team = m.InviteTeamMembers(
            invitees=[
                m.Invitee(email="lee@example.com", roles=["practitioner"], invitee_name="Lee"),
                m.Invitee(email="max@example.com", roles=["owner"]),
                m.Invitee(email=bounce.BOUNCING_ADDRESS, roles=["practitioner"]),
            ],
            message="Welcome to the team!",
            expires_in_days=14,
        )
        summary = (await self.do(team, self.owner)).accepted().data
        assert isinstance(summary, m.TeamMembersInvited)
        for result in summary.results:
            said = result.invitation_id or f"refused: {result.reason}"
            print(f"   row {result.index} {result.email:30} {said}")
        await self.wait_event(
            lambda e: (
                e.type == "EmailFailed" and getattr(e.data, "to", "") == bounce.BOUNCING_ADDRESS
            )
        )
        await self.users_table()

        print(f"\n== {next(step)}. Disconnect Ann (the trash icon): her access is revoked")
        disconnected = await self.do(m.DisconnectMember(member_id="user-ann"), self.owner)
        print(f"   outcome: {disconnected.accepted().type}: Success")
        await self.users_table()
        await self.visibility_table([self.owner, "user-ann"])


async def accept_token_from_email(mailpit: str, to: str) -> str:
    """The token in the Accept Invitation link of the newest email to `to`, as Ann clicks it:
    the gateway never sees a token on the topics it may read."""
    async with httpx.AsyncClient(base_url=mailpit, timeout=10) as http:
        found = (await http.get("/api/v1/search", params={"query": f"to:{to}"})).json()
        message = (await http.get(f"/api/v1/message/{found['messages'][0]['ID']}")).json()
    link = re.search(r"/accept\?token=([A-Za-z0-9_-]+)", message["Text"])
    if link is None:
        raise RuntimeError(f"no Accept Invitation link in the email to {to}")
    return link.group(1)


async def run(access: KafkaAccess, mailpit: str, exit_after: bool, mode: str) -> None:
    story = Story(access, bounces=mode == "local")
    await story.start()
    try:
        await story.play(mailpit)
    finally:
        await story.stop()
    print(f"\nDone. Mailpit (the invitation emails): {mailpit}")
    print(
        f"Web console:   {GATEWAY_URL}  (sign in: account id {story.account}, then pick "
        "Olive Owner; Kim is a practitioner; Lee's email in Mailpit has a working Accept "
        "Invitation button)"
    )
    print("Users page:    curl http://127.0.0.1:8102/accounts/" + story.account + "/users")
    print(
        "Visibility:    curl http://127.0.0.1:8104/accounts/"
        + story.account
        + "/members/user-olive/visible-clients"
    )
    if exit_after:
        return
    print("\nEverything keeps running. Ctrl-C (or `make down`) stops it.")
    try:
        while True:
            await asyncio.sleep(3600)
    except asyncio.CancelledError:
        pass


def down(services: list[str] | None = None, stack: list[str] | None = None) -> None:
    """`make down`: everything. An interrupted demo: what it started (None: all)."""
    if docker_answers():
        subprocess.run([*COMPOSE, "down"], check=False, cwd=config.REPO)
    cfg = config.load()
    processes.stop_all(cfg, services)
    if stack is None or "demo-mailpit" in stack:
        bounce.stop(cfg)
    for name in reversed(list(servers.SERVERS)):
        if stack is None or name in stack:
            servers.stop(cfg, name)
    print("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("action", nargs="?", choices=["run", "down"], default="run")
    parser.add_argument("--exit", action="store_true", help="stop waiting once the story is played")
    args = parser.parse_args()
    if args.action == "down":
        down()
        return
    # Ctrl-C, SIGTERM, SIGHUP, or the death of our parent (which sends us SIGTERM): stop
    # exactly what this run started.
    exit_on_signals(lambda: down(STARTED["services"], STARTED["servers"]))
    die_with_parent()
    access, mailpit, mode = bring_up()
    asyncio.run(run(access, mailpit, args.exit, mode))


if __name__ == "__main__":
    main()
