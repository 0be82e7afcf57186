"""The validation rules of the contract, as the models enforce them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.envelope import RawEnvelope, derived_id
from contracts.messages import (
    AcceptInvitation,
    ChangeMemberRoles,
    InviteTeamMember,
    RegisterClient,
    SetMemberSecurityTags,
)
from contracts.topics import PARTITIONS, all_topics, message_types

ENVELOPE = {
    "specversion": "1.0",
    "id": "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77",
    "source": "/gateway",
    "type": "InviteTeamMember",
    "time": "2026-11-27T21:04:05.123Z",
    "datacontenttype": "application/json",
    "accountid": "acct-42",
    "correlationid": "2b7a9d0e-3c1f-4f57-9e0b-6a1c5e8d4f21",
    "actorid": "user-owner-1",
    "data": {
        "email": "Coach.Ann@Example.com",
        "roles": ["practitioner"],
        "message": "Welcome aboard!",
    },
}


def test_the_contract_example_parses_and_normalises_the_email() -> None:
    envelope = RawEnvelope.model_validate(ENVELOPE)
    invite = InviteTeamMember.model_validate(envelope.data)
    assert invite.email == "coach.ann@example.com"
    assert envelope.key == b"acct-42"


def test_unknown_envelope_attributes_and_data_fields_are_tolerated() -> None:
    envelope = RawEnvelope.model_validate({**ENVELOPE, "traceparent": "00-abc", "x": 1})
    invite = InviteTeamMember.model_validate({**envelope.data, "future_field": True})
    assert invite.roles == ["practitioner"]


@pytest.mark.parametrize(
    "accountid", ["", "a" * 65, "acct 42", "acct/42", '{"$gt": ""}', "../etc", "ácct"]
)
def test_account_ids_outside_the_id_pattern_are_refused(accountid: str) -> None:
    with pytest.raises(ValidationError):
        RawEnvelope.model_validate({**ENVELOPE, "accountid": accountid})


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Coach.Ann@Example.COM ", "coach.ann@example.com"),
        ("ANN@EXAMPLE.COM", "ann@example.com"),
        ("josé@exämple.de", "josé@exämple.de"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normalised: str) -> None:
    assert InviteTeamMember(email=raw, roles=["practitioner"]).email == normalised


@pytest.mark.parametrize(
    "bad", ["not-an-email", "a@b", "ann@example.com\r\nBcc: x@evil.test", "", '{"$gt": ""}']
)
def test_malformed_emails_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        InviteTeamMember(email=bad, roles=["practitioner"])


@pytest.mark.parametrize(
    "roles",
    [
        [],
        ["owner"],
        ["practitioner", "owner"],
        ["practitioner", "practitioner"],
        ["coach"],
        ["practitioner", "administrator", "client_administrator", "billing_administrator", "owner"],
    ],
)
def test_invites_and_role_changes_need_1_to_4_distinct_roles_never_owner(roles: list[str]) -> None:
    with pytest.raises(ValidationError):
        InviteTeamMember(email="a@example.com", roles=roles)
    with pytest.raises(ValidationError):
        ChangeMemberRoles(member_id="m-1", roles=roles)


def test_four_roles_are_fine() -> None:
    roles = ["practitioner", "administrator", "client_administrator", "billing_administrator"]
    assert len(InviteTeamMember(email="a@example.com", roles=roles).roles) == 4


def test_custom_message_at_most_2000_chars() -> None:
    InviteTeamMember(email="a@example.com", roles=["practitioner"], message="x" * 2000)
    with pytest.raises(ValidationError):
        InviteTeamMember(email="a@example.com", roles=["practitioner"], message="x" * 2001)


def test_names_refuse_line_breaks_that_could_forge_email_headers() -> None:
    with pytest.raises(ValidationError):
        InviteTeamMember(
            email="a@example.com", roles=["practitioner"], inviter_name="Eve\r\nBcc: x@evil.test"
        )


def test_tags_are_trimmed_folded_and_at_most_50() -> None:
    client = RegisterClient(client_id="c-1", security_tags=[" Diabetes ", "diabetes", "Kids"])
    assert client.security_tags == ["Diabetes", "Kids"]
    SetMemberSecurityTags(member_id="m", security_tags=[f"t{i}" for i in range(50)])
    with pytest.raises(ValidationError):
        SetMemberSecurityTags(member_id="m", security_tags=[f"t{i}" for i in range(51)])
    with pytest.raises(ValidationError):
        SetMemberSecurityTags(member_id="m", security_tags=["x" * 65])
    with pytest.raises(ValidationError):
        SetMemberSecurityTags(member_id="m", security_tags=["   "])


def test_invitation_ids_are_uuids() -> None:
    with pytest.raises(ValidationError):
        AcceptInvitation(invitation_id="../../etc/passwd", token="t", user_id="u", email="a@b.co")


def test_derived_ids_are_deterministic() -> None:
    assert derived_id("cmd-1", "InvitationCreated") == derived_id("cmd-1", "InvitationCreated")
    assert derived_id("cmd-1", "InvitationCreated") != derived_id("cmd-2", "InvitationCreated")


def test_topic_catalogue_has_every_topic_and_its_dlq() -> None:
    topics = all_topics()
    assert len(topics) == 16 and PARTITIONS == 6
    assert "access-control.commands.dlq" in topics
    assert "invitations.links" in topics and "invitations.links.dlq" in topics
    assert set(message_types("invitations.commands")) == {
        "InviteTeamMember",
        "InviteTeamMembers",
        "ResendInvitation",
        "RevokeInvitation",
        "AcceptInvitation",
    }
