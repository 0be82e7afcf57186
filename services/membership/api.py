"""The Users page: GET /accounts/{account_id}/users?status=active|pending|expired|disconnected"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from contracts.common import ID_PATTERN, format_time
from services.membership.domain import PersonStatus
from services.membership.store import MembershipStore
from services.runtime.http import Request, Response, Route, route
from services.runtime.mongo import Document

_ACCOUNT_ID = re.compile(ID_PATTERN)
_STATUSES = {s.value for s in PersonStatus}
_NOT_YET_MEMBER = {PersonStatus.PENDING.value, PersonStatus.EXPIRED.value}


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def user_row(doc: Document) -> dict[str, Any]:
    return {
        "member_id": None if doc["status"] in _NOT_YET_MEMBER else doc.get("member_id"),
        "invitation_id": doc.get("invitation_id"),
        "email": doc["email"],
        "name": doc.get("name"),
        "roles": doc["roles"],
        "status": doc["status"],
        "invited_at": _time(doc.get("invited_at")),
        "joined_at": _time(doc.get("joined_at")),
        "expires_at": _time(doc.get("expires_at")) if doc["status"] in _NOT_YET_MEMBER else None,
        "resend_count": doc.get("resend_count", 0),
    }


def _sort_key(doc: Document) -> tuple[str, str]:
    when = doc.get("joined_at") or doc.get("invited_at")
    return (when.isoformat() if when else "", doc["email"])


class UsersPage:
    def __init__(self, store: MembershipStore) -> None:
        self.store = store

    async def users(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        status = request.query.get("status") or None
        if status is not None and status not in _STATUSES:
            return Response.error(400, f"status must be one of {sorted(_STATUSES)}")
        if not _ACCOUNT_ID.match(account_id) or await self.store.account(account_id) is None:
            return Response.error(404, f"no account {account_id}")
        people = sorted(await self.store.people_of(account_id, status), key=_sort_key)
        return Response(200, {"users": [user_row(doc) for doc in people]})

    def routes(self) -> list[Route]:
        return [route("/accounts/{account_id}/users", self.users)]
