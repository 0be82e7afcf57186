"""One example of every message: the `data` the AsyncAPI documents, docs/contract.md and the
sample corpus show, and `envelope()` around it. Each one parses (a test checks)."""

from __future__ import annotations

from typing import Any

from contracts.envelope import derived_id
from contracts.topics import COMMAND_TYPES

ACCOUNT = "acct-42"
OWNER = "user-owner-1"
INVITATION = "0b6f2a4e-8c1d-4e3f-9a7b-5d2c1e0f9a8b"
EXPIRES = "2026-12-05T21:04:05.123Z"
_INVITATION_DETAILS: dict[str, Any] = {
    "invitation_id": INVITATION,
    "email": "coach.ann@example.com",
    "roles": ["practitioner"],
    "message": "Welcome aboard! Sign in with this address.",
    "invitee_name": "Ann Lee",
    "inviter_id": OWNER,
    "inviter_name": "Olive Owner",
    "account_name": "Harbour Health",
    "expires_at": EXPIRES,
    "security_tags": ["kids"],
}

DATA: dict[str, dict[str, Any]] = {
    "InviteTeamMember": {
        "email": "Coach.Ann@Example.com",
        "roles": ["practitioner"],
        "message": "Welcome aboard! Sign in with this address.",
        "inviter_name": "Olive Owner",
        "invitee_name": "Ann Lee",
        "security_tags": ["kids"],
        "expires_in_days": 14,
        "locale": "es",
    },
    "InviteTeamMembers": {
        "invitees": [
            {"email": "coach.ann@example.com", "roles": ["practitioner"], "invitee_name": "Ann"},
            {
                "email": "bo@example.com",
                "roles": ["practitioner", "administrator"],
                "security_tags": ["north"],
            },
        ],
        "message": "Welcome to the team!",
        "inviter_name": "Olive Owner",
        "expires_in_days": 14,
    },
    "TeamMembersInvited": {
        "results": [
            {"index": 0, "email": "coach.ann@example.com", "invitation_id": INVITATION},
            {
                "index": 1,
                "email": "bo@example.com",
                "reason": "already_member",
                "detail": "bo@example.com is already a member",
            },
        ]
    },
    "ResendInvitation": {"invitation_id": INVITATION, "expires_in_days": 7},
    "RevokeInvitation": {"invitation_id": INVITATION},
    "AcceptInvitation": {
        "invitation_id": INVITATION,
        "token": "kq3V0pQ8rLw2Yt9Zb1xN5mC7dF4gH6jS",
        "user_id": "user-ann",
        "email": "coach.ann@example.com",
        "name": "Ann Lee",
    },
    "InvitationCreated": _INVITATION_DETAILS,
    "InvitationResent": {**_INVITATION_DETAILS, "resend_count": 1},
    "InvitationLinkIssued": {
        **_INVITATION_DETAILS,
        "resend_count": 0,
        "accept_token": "kq3V0pQ8rLw2Yt9Zb1xN5mC7dF4gH6jS",
    },
    "InvitationRevoked": {
        "invitation_id": INVITATION,
        "email": "coach.ann@example.com",
        "revoked_by": OWNER,
    },
    "InvitationExpired": {"invitation_id": INVITATION, "email": "coach.ann@example.com"},
    "InvitationAccepted": {
        "invitation_id": INVITATION,
        "email": "coach.ann@example.com",
        "roles": ["practitioner"],
        "user_id": "user-ann",
        "name": "Ann Lee",
        "invited_by": OWNER,
        "accepted_at": "2026-11-28T09:30:00.000Z",
        "security_tags": ["kids"],
    },
    "RegisterProAccount": {
        "account_name": "Harbour Health",
        "owner_user_id": OWNER,
        "owner_email": "olive@example.com",
        "owner_name": "Olive Owner",
    },
    "DisconnectMember": {"member_id": "user-ann"},
    "SetAccountPreferences": {
        "invitation_reminders": True,
        "reminder_days_before_expiry": 3,
        "locale": "fr",
        "time_zone": "Europe/Paris",
    },
    "AccountPreferencesSet": {
        "invitation_reminders": True,
        "reminder_days_before_expiry": 3,
        "locale": "fr",
        "time_zone": "Europe/Paris",
    },
    "InvitationReminded": {
        "invitation_id": INVITATION,
        "email": "coach.ann@example.com",
        "expires_at": EXPIRES,
        "reminders": 1,
    },
    "ChangeMemberRoles": {"member_id": "user-ann", "roles": ["practitioner", "administrator"]},
    "ProAccountRegistered": {
        "account_name": "Harbour Health",
        "owner_user_id": OWNER,
        "owner_email": "olive@example.com",
    },
    "MemberJoined": {
        "member_id": "user-ann",
        "email": "coach.ann@example.com",
        "name": "Ann Lee",
        "roles": ["practitioner"],
        "invitation_id": INVITATION,
        "joined_at": "2026-11-28T09:30:00.123Z",
        "security_tags": ["kids"],
    },
    "MemberRolesChanged": {
        "member_id": "user-ann",
        "roles": ["practitioner", "administrator"],
        "previous_roles": ["practitioner"],
        "changed_by": OWNER,
    },
    "MemberDisconnected": {
        "member_id": "user-ann",
        "email": "coach.ann@example.com",
        "roles": ["practitioner"],
        "disconnected_by": OWNER,
        "disconnected_at": "2026-11-28T11:00:00.000Z",
    },
    "RegisterClient": {"client_id": "client-17", "security_tags": ["kids"]},
    "RemoveClient": {"client_id": "client-17"},
    "SetClientSecurityTags": {"client_id": "client-17", "security_tags": ["kids", "north"]},
    "SetMemberSecurityTags": {"member_id": "user-ann", "security_tags": ["kids"]},
    "ClientRegistered": {"client_id": "client-17", "security_tags": ["kids"]},
    "ClientSecurityTagsSet": {"client_id": "client-17", "security_tags": ["kids", "north"]},
    "ClientRemoved": {"client_id": "client-17"},
    "MemberSecurityTagsSet": {"member_id": "user-ann", "security_tags": ["kids"]},
    "ClientVisibilityChanged": {
        "member_id": "user-ann",
        "granted": ["client-17"],
        "revoked": [],
    },
    "EmailSent": {
        "cause_id": "6a0f3c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b",
        "template": "invitation",
        "to": "coach.ann@example.com",
        "message_id": "<173.4@mail.example.com>",
    },
    "EmailDeferred": {
        "cause_id": "6a0f3c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b",
        "template": "invitation",
        "to": "coach.ann@example.com",
        "error": "421 4.7.0 try again later",
        "attempts": 1,
        "next_attempt_at": "2026-11-28T09:30:02.000Z",
    },
    "EmailFailed": {
        "cause_id": "6a0f3c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b",
        "template": "invitation",
        "to": "coach.ann@example.com",
        "error": "550 5.1.1 mailbox unavailable",
        "attempts": 1,
        "permanent": True,
    },
    "CommandRejected": {
        "command_id": "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77",
        "command_type": "InviteTeamMember",
        "reason": "already_member",
        "detail": "coach.ann@example.com is already a member",
    },
}

_SOURCES = {
    "Invitation": "/services/invitations",
    "Member": "/services/membership",
    "Account": "/services/membership",
    "ProAccount": "/services/membership",
    "Client": "/services/access-control",
    "Email": "/services/notifications",
}


def envelope(type_: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full message as it travels: a command as a gateway sends it, an event as the
    service that owns it publishes it."""
    command = type_ in COMMAND_TYPES
    source = next((s for prefix, s in _SOURCES.items() if type_.startswith(prefix)), None)
    message: dict[str, Any] = {
        "specversion": "1.0",
        "id": "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77" if command else _event_id(type_),
        "source": "/gateway" if command else (source or "/services/invitations"),
        "type": type_,
        "time": "2026-11-28T09:30:00.123Z",
        "datacontenttype": "application/json",
        "accountid": ACCOUNT,
        "correlationid": "2b7a9d0e-3c1f-4f57-9e0b-6a1c5e8d4f21",
    }
    if command and type_ != "AcceptInvitation":
        message["actorid"] = OWNER
    if not command:
        message["causationid"] = "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77"
    message["data"] = DATA[type_] if data is None else data
    return message


def _event_id(type_: str) -> str:
    return derived_id("5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77", type_)
