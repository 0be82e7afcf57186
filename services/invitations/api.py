"""The accept page's look-up: POST /accounts/{a}/invitations/{id}/lookup {"token": "..."}."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body

from contracts.common import format_time
from contracts.http import InvitationLookup, InvitationStatus, LookupRequest
from services.invitations.lookup import RateLimit, look_up
from services.invitations.store import InvitationStore
from services.runtime.clock import Clock
from services.runtime.http import ApiError

INVALID_TOKEN = "unknown or dead invitation link"  # noqa: S105 - a message, not a secret


def router(store: InvitationStore, clock: Clock, live_links: int, limit: RateLimit) -> APIRouter:
    api = APIRouter(tags=["accept page"])

    @api.post(
        "/accounts/{account_id}/invitations/{invitation_id}/lookup",
        response_model=InvitationLookup,
        summary="What an invitation link invites to, for the accept page (changes nothing)",
        responses={
            404: {"description": "invalid_token: a wrong token or an unknown invitation"},
            429: {"description": "Too many look-ups of this invitation; see Retry-After"},
        },
    )
    async def lookup(
        account_id: str,
        invitation_id: str,
        request: Annotated[LookupRequest, Body()],
    ) -> InvitationLookup:
        """Given the invitation id and the raw token of its link: the invitation's status,
        account, inviter, roles, expiry and masked email. A wrong token and an unknown id get
        the same `invalid_token` answer; look-ups of one invitation are rate limited."""
        now = clock.now()
        wait = limit.retry_after(invitation_id[:64], now)
        if wait is not None:
            raise ApiError(
                429,
                "too many look-ups of this invitation; try again later",
                "rate_limited",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        found = await store.invitations.get(invitation_id[:64])
        inv = found if found is not None and found.account_id == account_id else None
        view = look_up(inv, request.token, now, live_links)
        if view is None:
            raise ApiError(404, INVALID_TOKEN, "invalid_token")
        return InvitationLookup(
            invitation_id=view.invitation_id,
            status=InvitationStatus(view.status.value),
            account_name=view.account_name,
            inviter_name=view.inviter_name,
            roles=view.roles,
            expires_at=format_time(view.expires_at),
            email_masked=view.email_masked,
        )

    return api
