"""The Users page: GET /accounts/{account_id}/users?status=active|pending|expired|disconnected"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from contracts.common import ID_PATTERN, format_time
from services.membership.domain import Person, PersonStatus
from services.membership.store import MembershipStore
from services.runtime.http import Request, Response, Route, route

_ACCOUNT_ID = re.compile(ID_PATTERN)
_STATUSES = {s.value for s in PersonStatus}
_NOT_YET_MEMBER = {PersonStatus.PENDING, PersonStatus.EXPIRED}


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def user_row(person: Person) -> dict[str, Any]:
    not_yet_member = person.status in _NOT_YET_MEMBER
    return {
        "member_id": None if not_yet_member else person.member_id,
        "invitation_id": person.invitation_id,
        "email": person.email,
        "name": person.name,
        "roles": [role.value for role in person.roles],
        "status": person.status.value,
        "invited_at": _time(person.invited_at),
        "joined_at": _time(person.joined_at),
        "expires_at": _time(person.expires_at) if not_yet_member else None,
        "resend_count": person.resend_count,
    }


def _sort_key(person: Person) -> tuple[str, str]:
    when = person.joined_at or person.invited_at
    return (when.isoformat() if when else "", person.email)


class UsersPage:
    def __init__(self, store: MembershipStore) -> None:
        self.store = store

    async def users(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        status = request.query.get("status") or None
        if status is not None and status not in _STATUSES:
            return Response.error(400, f"status must be one of {sorted(_STATUSES)}")
        if not _ACCOUNT_ID.match(account_id) or await self.store.accounts.get(account_id) is None:
            return Response.error(404, f"no account {account_id}")
        people = sorted(await self.store.people_of(account_id, status), key=_sort_key)
        return Response(200, {"users": [user_row(person) for person in people]})

    def routes(self) -> list[Route]:
        return [route("/accounts/{account_id}/users", self.users)]
