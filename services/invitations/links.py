"""The accept link's whole lifecycle, in one place.

1. `mint`: 32 random bytes; the invitation stores only the token's hash (`domain.Link`).
2. `issue`: the private InvitationLinkIssued goes into the outbox with a placeholder where the
   token belongs; the raw token waits in this process's memory, never in the database.
3. `render` (the outbox's publish hook): the placeholder becomes the raw token as the record
   leaves for `invitations.links`; the token is then forgotten.
4. After a crash the raw token is gone: `render` mints a fresh link, adds its hash to the
   invitation, and publishes that one (the invitation keeps its earlier links).
5. `domain.Invitation.knows_token` accepts the newest `Policy.live_links` links only.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from contracts.messages import InvitationDetails, InvitationLinkIssued
from contracts.topics import INVITATIONS_LINKS
from services.invitations.domain import Link, hash_token
from services.runtime.clock import Clock
from services.runtime.collection import Collection, Document
from services.runtime.rules import Emit

PLACEHOLDER = "unpublished:"  # + the token's hash, in the stored outbox entry
_REMEMBERED = 10_000


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class FreshLink:
    token: str
    link: Link


class AcceptLinks:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._unpublished: OrderedDict[str, str] = OrderedDict()  # token hash -> raw token

    def mint(self) -> FreshLink:
        token = new_token()
        return FreshLink(token, Link(hash_token(token), self.clock.now()))

    def issue(self, details: InvitationDetails, fresh: FreshLink, resend_count: int = 0) -> Emit:
        """The private twin of a public InvitationCreated/Resent."""
        self._unpublished[fresh.link.token_hash] = fresh.token
        while len(self._unpublished) > _REMEMBERED:  # links decided but never committed
            self._unpublished.popitem(last=False)
        fields = details.model_dump(exclude={"resend_count", "accept_token"})
        data = InvitationLinkIssued(
            **fields,
            resend_count=resend_count,
            accept_token=PLACEHOLDER + fresh.link.token_hash,
        )
        return Emit(data, topic=INVITATIONS_LINKS)

    async def render(self, collection: Collection, doc: Document, entry: Document) -> bytes:
        value: str = entry["value"]
        if entry["type"] != "InvitationLinkIssued":
            return value.encode()
        message = json.loads(value)
        token_hash = str(message["data"]["accept_token"]).removeprefix(PLACEHOLDER)
        token = self._unpublished.pop(token_hash, None)
        if token is None:  # relaying after a crash: the raw token died with the process
            fresh = self.mint()
            link = {"token_hash": fresh.link.token_hash, "issued_at": fresh.link.issued_at}
            await collection.push(doc["_id"], "links", link)
            token = fresh.token
        message["data"]["accept_token"] = token
        return json.dumps(message, separators=(",", ":")).encode()
