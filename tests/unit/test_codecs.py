"""Every aggregate codec writes a document BSON can hold and reads the same state back.

The codecs start from the dataclass's own field values (`field_values`, no deep conversion), so
a field BSON cannot encode (a nested dataclass, a timedelta) must be converted by the codec
itself: these round trips through BSON are what would fail if one were left as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from bson.codec_options import CodecOptions

from contracts.common import Locale, Role
from services.access_control.domain import Client, MemberAccess
from services.access_control.store import ClientCodec, MemberCodec
from services.invitations.domain import Invitation, Link, Status
from services.invitations.store import InvitationCodec
from services.membership.domain import Account, Person, PersonStatus, Preferences
from services.membership.email_status import EmailOutcome, EmailStatus
from services.membership.store import AccountCodec, EmailOutcomeCodec, PersonCodec
from services.runtime.unit_of_work import Codec

AS_STORED = CodecOptions(tz_aware=True, tzinfo=UTC)
AT = datetime(2026, 11, 29, 9, 30, 15, 123000, tzinfo=UTC)  # BSON keeps milliseconds


def invitation() -> Invitation:
    return Invitation(
        id="inv-1",
        account_id="acc-1",
        account_name="Clinic",
        email="ann@example.com",
        roles=(Role.PRACTITIONER, Role.CLIENT_ADMINISTRATOR),
        message="Welcome",
        invitee_name="Ann",
        inviter_id="m-owner",
        inviter_name="Olive",
        status=Status.PENDING,
        created_at=AT,
        expires_at=AT + timedelta(days=7),
        last_sent_at=AT,
        resend_count=1,
        links=(Link("h1", AT), Link("h2", AT + timedelta(minutes=5))),
        security_tags=("north", "kids"),
        lifetime=timedelta(days=3),
        locale="fr",
        reminder_due=AT + timedelta(days=5),
    )


def person() -> Person:
    return Person(
        account_id="acc-1",
        email="ann@example.com",
        status=PersonStatus.ACTIVE,
        roles=(Role.PRACTITIONER,),
        member_id="m-1",
        name="Ann",
        invitation_id="inv-1",
        invited_at=AT,
        joined_at=AT + timedelta(hours=1),
        expires_at=AT + timedelta(days=7),
        resend_count=2,
        joined_invitations=("inv-0", "inv-1"),
        pending_tags=("north",),
        last_sent_at=AT,
    )


def account() -> Account:
    preferences = Preferences(
        invitation_reminders=False, reminder_days_before_expiry=3, locale=Locale.FR
    )
    return Account("acc-1", "Clinic", "u-1", "olive@example.com", "Olive", AT, preferences)


CASES: list[tuple[Codec[Any], Any]] = [
    (InvitationCodec(), invitation()),
    (PersonCodec(), person()),
    (PersonCodec(), Person("acc-1", "bo@example.com", PersonStatus.PENDING, (Role.ADMINISTRATOR,))),
    (AccountCodec(), account()),
    (EmailOutcomeCodec(), EmailOutcome("acc-1", "ann@example.com", AT, EmailStatus.FAILED, "550")),
    (MemberCodec(), MemberAccess("acc-1", "m-1", "active", ("practitioner",), ("North", "kids"))),
    (ClientCodec(), Client("acc-1", "c-1", ("north",), removed=True)),
]


@pytest.mark.parametrize(("codec", "state"), CASES, ids=lambda v: type(v).__name__)
def test_a_stored_document_reads_back_as_the_same_state(codec: Codec[Any], state: Any) -> None:
    document = {"_id": codec.key(state), **codec.encode(state)}
    stored = bson.decode(bson.encode(document), codec_options=AS_STORED)
    assert codec.decode(stored) == state


def test_the_document_holds_plain_values_not_the_domain_types() -> None:
    document = InvitationCodec().encode(invitation())
    assert document["links"] == [
        {"token_hash": "h1", "issued_at": AT},
        {"token_hash": "h2", "issued_at": AT + timedelta(minutes=5)},
    ]
    assert document["lifetime_days"] == 3
    assert "lifetime" not in document
    assert document["roles"] == ["practitioner", "client_administrator"]
