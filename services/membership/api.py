"""The Users page: GET /accounts/{account_id}/users?status=&limit=&after=  (email order)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from contracts.common import ID_PATTERN, format_time
from services.membership.domain import Person, PersonStatus
from services.membership.store import MembershipStore
from services.runtime.http import ApiError

_ACCOUNT_ID = re.compile(ID_PATTERN)
_NOT_YET_MEMBER = {PersonStatus.PENDING, PersonStatus.EXPIRED}
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


class UserRow(BaseModel):
    member_id: str | None = Field(description="The member id; null until the invitee joins.")
    invitation_id: str | None = Field(description="The latest invitation of this person.")
    email: str = Field(description="The person's email (lower case).")
    name: str | None = Field(description="The display name, when known.")
    roles: list[str] = Field(description="The roles held, or offered by a pending invitation.")
    status: PersonStatus = Field(description="active, pending, expired or disconnected.")
    invited_at: str | None = Field(description="When the latest invitation was sent.")
    joined_at: str | None = Field(description="When the person joined.")
    expires_at: str | None = Field(description="When a pending invitation expires.")
    resend_count: int = Field(description="How many times the invitation was resent.")


class UsersPage(BaseModel):
    users: list[UserRow] = Field(description="A page of rows, in email order.")
    next: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def user_row(person: Person) -> UserRow:
    not_yet_member = person.status in _NOT_YET_MEMBER
    return UserRow(
        member_id=None if not_yet_member else person.member_id,
        invitation_id=person.invitation_id,
        email=person.email,
        name=person.name,
        roles=[role.value for role in person.roles],
        status=person.status,
        invited_at=_time(person.invited_at),
        joined_at=_time(person.joined_at),
        expires_at=_time(person.expires_at) if not_yet_member else None,
        resend_count=person.resend_count,
    )


def router(store: MembershipStore) -> APIRouter:
    users = APIRouter(tags=["users"])

    @users.get(
        "/accounts/{account_id}/users",
        response_model=UsersPage,
        summary="The Users page: every person of the account with their status, a page at a time",
    )
    async def users_page(
        account_id: str,
        status: Annotated[PersonStatus | None, Query(description="Only this status.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")] = (
            DEFAULT_LIMIT
        ),
        after: Annotated[
            str | None, Query(max_length=320, description="The `next` of the previous page.")
        ] = None,
    ) -> UsersPage:
        if not _ACCOUNT_ID.match(account_id) or await store.accounts.get(account_id) is None:
            raise ApiError(404, f"no account {account_id}")
        wanted = None if status is None else status.value
        people = await store.people_of(account_id, wanted, after or None, limit + 1)
        page, more = people[:limit], len(people) > limit
        return UsersPage(
            users=[user_row(person) for person in page], next=page[-1].email if more else None
        )

    return users
