"""Value types shared by every message: ids, emails, roles, tags, rejection reasons."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
)

ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_TAGS = 50
MAX_MESSAGE_CHARS = 2000
MAX_NAME_CHARS = 120

EntityId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""Account, user, member and client ids: 1-64 chars of A-Za-z0-9_.:-"""

InvitationId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


class Role(StrEnum):
    OWNER = "owner"
    PRACTITIONER = "practitioner"
    ADMINISTRATOR = "administrator"
    CLIENT_ADMINISTRATOR = "client_administrator"
    BILLING_ADMINISTRATOR = "billing_administrator"


class Locale(StrEnum):
    """The languages emails are written in."""

    EN = "en"
    ES = "es"
    FR = "fr"
    DE = "de"


TIME_ZONE_PATTERN = r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$"


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    return value


TimeZone = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$"
    ),
    AfterValidator(_time_zone),
]
"""An IANA time zone name, e.g. `Europe/Paris`: the schema checks its shape, the service the
tz database (the final word, as for emails)."""


class RejectionReason(StrEnum):
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    ALREADY_MEMBER = "already_member"
    ALREADY_INVITED = "already_invited"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - a reason code, not a secret
    EMAIL_MISMATCH = "email_mismatch"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ALREADY_ACCEPTED = "already_accepted"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"


def normalize_email(value: str) -> str:
    """Trim, check the syntax, lower-case local part and domain. Raises ValueError."""
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("email must not contain control characters")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email: {exc}") from exc
    return checked.normalized.lower()


# What a schema validator can check of an address: one @, no whitespace inside (around it is
# trimmed), a dotted domain without empty labels. The service's RFC 5322 check
# (email-validator) is the final word.
EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s.]+(\.[^@\s.]+)+\s*$"

Email = Annotated[
    str,
    StringConstraints(max_length=320, pattern=EMAIL_PATTERN),
    Field(json_schema_extra={"format": "email"}),
    AfterValidator(normalize_email),
]
"""An email in a command: checked and normalised (lower case) at the door."""

EventEmail = Annotated[str, StringConstraints(min_length=1, max_length=320)]
"""An email in an event: its producer normalised it; a consumer that mails it checks it again
(so a bad address becomes EmailFailed, not a dead letter)."""


def _unique_team_roles(roles: list[Role]) -> list[Role]:
    if Role.OWNER in roles:
        raise ValueError("the owner role can't be given; it is set when the account is registered")
    if len(set(roles)) != len(roles):
        raise ValueError("roles must not repeat")
    return roles


TEAM_ROLES = [role.value for role in Role if role is not Role.OWNER]

TeamRoles = Annotated[
    list[Role],
    Field(
        min_length=1,
        max_length=4,
        json_schema_extra={"uniqueItems": True, "items": {"enum": TEAM_ROLES, "type": "string"}},
    ),
    AfterValidator(_unique_team_roles),
]
"""Roles an admin may give a team member: 1-4 distinct roles, never owner."""

MemberRoles = Annotated[list[Role], Field(min_length=1, max_length=5)]
"""Roles a member holds (the owner's include `owner`)."""


def _normalize_tags(tags: list[str]) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        folded = tag.casefold()
        if folded not in seen:
            seen.add(folded)
            result.append(tag)
    return result


def _trimmed(pattern: str) -> Callable[[dict[str, Any]], None]:
    """The schema of a string the parser trims before counting: `pattern` says what may be
    left once the surrounding whitespace is gone (a length limit on the raw string would
    refuse what the service accepts)."""

    def rewrite(schema: dict[str, Any]) -> None:
        schema.pop("minLength", None)
        schema.pop("maxLength", None)
        schema["pattern"] = pattern

    return rewrite


# 1-64 characters once trimmed
TAG_PATTERN = r"^\s*\S([\s\S]{0,62}\S)?\s*$"
# 0-120 characters once trimmed, no control character (CR, LF, ...) left inside
NAME_PATTERN = r"^\s*([^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]{0,118}[^\x00-\x1f\x7f\s])?)?\s*$"

SecurityTag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(json_schema_extra=_trimmed(TAG_PATTERN)),
]
SecurityTags = Annotated[
    list[SecurityTag], Field(max_length=MAX_TAGS), AfterValidator(_normalize_tags)
]
"""At most 50 tags, trimmed; duplicates that differ only in case are folded into the first."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters such as CR or LF")
    return value


PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_NAME_CHARS),
    Field(json_schema_extra=_trimmed(NAME_PATTERN)),
    AfterValidator(_no_control_chars),
]
"""A display name as a command carries it: it may end up in an email header, so no CR/LF."""

CustomMessage = Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)]

ExpiresInDays = Annotated[int, Field(ge=1, le=30)]
"""An invitation's own lifetime in whole days (1-30)."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a `Z`."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text_or_datetime(value: object) -> object:
    """On the wire a time is RFC 3339 text (a number would be read as Unix seconds)."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an RFC 3339 timestamp string")


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_text_or_datetime),
    AfterValidator(_to_utc),
    PlainSerializer(format_time, return_type=str, when_used="json"),
]


def utc_now() -> datetime:
    """Now, in UTC, at the millisecond precision the wire carries (so values round-trip)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
