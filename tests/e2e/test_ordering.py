"""Accounts are handled concurrently, yet each account's commands take effect in command order.

50 accounts' commands are interleaved on the command topic (account 0's first command, account
1's first, ..., account 0's second, ...). Each account's sequence only succeeds in order: revoke
an invitation, invite the same email again, invite a second email, revoke that. Handled out of
order, a revoke would find nothing (`not_found`) or an invite would clash (`already_invited`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from contracts.envelope import derived_id
from contracts.topics import INVITATIONS_COMMANDS, INVITATIONS_EVENTS
from tests.e2e.conftest import System, start_system, stop_system
from tests.e2e.test_story import register
from tests.servers import Servers

ACCOUNTS = 50
EXPECTED = [
    "InvitationCreated",
    "InvitationRevoked",
    "InvitationCreated",
    "InvitationCreated",
    "InvitationRevoked",
]


async def test_each_accounts_outcomes_in_command_order_under_concurrency(
    servers: Servers, unique: str, tmp_path: Path
) -> None:
    system = await start_system(servers, unique, tmp_path)
    try:
        accounts = [f"acct-order{n}-{unique}" for n in range(ACCOUNTS)]
        await asyncio.gather(
            *[register(system, a, "owner-1", f"owner-{a}@example.com") for a in accounts]
        )
        sent: dict[str, list[str]] = {account: [] for account in accounts}
        for step in range(len(EXPECTED)):
            for account in accounts:
                sent[account].append(await _send_step(system, account, step, sent[account]))

        tap = system.taps[INVITATIONS_EVENTS]
        every_command = {command for commands in sent.values() for command in commands}
        await tap.wait_for(
            lambda e: e.get("causationid") in every_command,
            count=len(every_command),
            timeout=240,
        )
        for account, commands in sent.items():
            outcomes = [e for e in tap.envelopes(account) if e.get("causationid") in commands]
            assert [e["causationid"] for e in outcomes] == commands, account
            assert [e["type"] for e in outcomes] == EXPECTED, (account, outcomes)
    finally:
        await stop_system(system)


async def _send_step(system: System, account: str, step: int, earlier: list[str]) -> str:
    """Step 0 invites a@, 1 revokes it, 2 invites a@ again, 3 invites b@, 4 revokes b@."""
    if step in (1, 4):
        invited_by = earlier[0] if step == 1 else earlier[3]
        command, data = "RevokeInvitation", {"invitation_id": derived_id(invited_by, "invitation")}
    else:
        email = f"{'b' if step == 3 else 'a'}-{account}@example.com"
        command, data = "InviteTeamMember", {"email": email, "roles": ["practitioner"]}
    return await system.gateway.send(INVITATIONS_COMMANDS, command, account, data, "owner-1")
