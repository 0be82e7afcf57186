"""The Users page: GET /accounts/{account_id}/users?status=&limit=&after=  (email order), and
one member's row: GET /accounts/{account_id}/members/{member_id}."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from contracts.common import ID_PATTERN, format_time
from contracts.http import EmailDelivery, UserRow, UsersPage, UserStatus
from services.membership.domain import Person, PersonStatus
from services.membership.email_status import EmailOutcome, shown
from services.membership.store import MembershipStore, by_member
from services.runtime.http import ApiError

_ACCOUNT_ID = re.compile(ID_PATTERN)
_NOT_YET_MEMBER = {PersonStatus.PENDING, PersonStatus.EXPIRED}
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def user_row(person: Person, email: EmailOutcome | None = None) -> UserRow:
    not_yet_member = person.status in _NOT_YET_MEMBER
    status, failure = shown(email, person.last_sent_at) if not_yet_member else (None, None)
    return UserRow(
        member_id=None if not_yet_member else person.member_id,
        invitation_id=person.invitation_id,
        email=person.email,
        name=person.name,
        roles=[role.value for role in person.roles],
        status=UserStatus(person.status.value),
        invited_at=_time(person.invited_at),
        joined_at=_time(person.joined_at),
        expires_at=_time(person.expires_at) if not_yet_member else None,
        resend_count=person.resend_count,
        security_tags=None if person.pending_tags is None else list(person.pending_tags),
        email_status=None if status is None else EmailDelivery(status.value),
        email_failure=failure,
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
        email: Annotated[
            str | None, Query(max_length=320, description="Only this person's row (any case).")
        ] = None,
    ) -> UsersPage:
        if not _ACCOUNT_ID.match(account_id) or await store.accounts.get(account_id) is None:
            raise ApiError(404, f"no account {account_id}")
        wanted = None if status is None else status.value
        people = await store.people_of(
            account_id, wanted, after or None, limit + 1, email.strip().lower() if email else None
        )
        page, more = people[:limit], len(people) > limit
        waiting = [p.email for p in page if p.status in _NOT_YET_MEMBER]
        emails = await store.email_outcomes(account_id, waiting) if waiting else {}
        rows = [user_row(person, emails.get(person.email)) for person in page]
        return UsersPage(users=rows, next=page[-1].email if more else None)

    @users.get(
        "/accounts/{account_id}/members/{member_id}",
        response_model=UserRow,
        summary="One member's row of the Users page (active or disconnected)",
    )
    async def member_row(account_id: str, member_id: str) -> UserRow:
        if not (_ACCOUNT_ID.match(account_id) and _ACCOUNT_ID.match(member_id)):
            raise ApiError(404, f"no member {member_id} in {account_id}")
        person = (await store.people.load_where(by_member(account_id, member_id))).state
        if person is None or person.status in _NOT_YET_MEMBER:
            raise ApiError(404, f"no member {member_id} in {account_id}")
        return user_row(person)

    return users
