"""What every field of the wire contract means: the JSON Schemas, the AsyncAPI documents and
docs/contract.md take their field descriptions from here (a test checks none is missing)."""

from __future__ import annotations

from typing import Any

BY_FIELD: dict[str, str] = {
    "locale": "The language of the emails: en, es, fr or de.",
    "invitation_reminders": "Whether pending invitations get one automatic reminder email.",
    "reminder_days_before_expiry": "How many days before expiry the reminder goes (1-29).",
    "time_zone": "The IANA time zone the emails show dates in, e.g. Europe/Paris.",
    "reminders": "How many automatic reminders this invitation has had.",
    "invitees": "1-100 rows, each checked on its own like an InviteTeamMember.",
    "results": "One result per row, in the rows' order.",
    "index": "The row's position in `invitees` (from 0).",
    "expires_in_days": "A lifetime in days (1-30).",
    "email": "The invitee's or member's email address, normalised (trimmed, lower case).",
    "roles": "The roles, each one of the Role values.",
    "message": "The admin's personal message shown in the invitation email (the editable text).",
    "inviter_name": "The inviting admin's display name, shown in the email.",
    "invitee_name": "The invitee's name as the admin typed it, used to greet them.",
    "invitation_id": "The invitation's id (a UUID the invitations service assigns).",
    "token": "The raw accept token from the invitation link's `token` query parameter.",
    "user_id": "The signed-in user's id: the member id the invitee will have.",
    "name": "The person's display name.",
    "inviter_id": "The member id of the admin who sent the invitation.",
    "account_name": "The Pro account's name, shown in the email.",
    "expires_at": "When the invitation link stops working (RFC 3339, UTC).",
    "resend_count": "How many times the invitation was resent (0 for the first email).",
    "accept_token": (
        "The raw accept token of the new link (private: only the email sender reads it)."
    ),
    "revoked_by": "The member id of the admin who revoked the invitation.",
    "invited_by": "The member id of the admin who sent the invitation.",
    "accepted_at": "When the invitee accepted (RFC 3339, UTC).",
    "owner_user_id": "The user id of the account's owner (becomes the first member).",
    "owner_email": "The owner's email address.",
    "owner_name": "The owner's display name.",
    "member_id": "The member's id (the user id they joined with).",
    "joined_at": "When the member joined (RFC 3339, UTC).",
    "previous_roles": "The roles the member held before the change.",
    "changed_by": "The member id of the admin who changed the roles.",
    "disconnected_by": "The member id of the admin who disconnected the member.",
    "disconnected_at": "When the member was disconnected (RFC 3339, UTC).",
    "client_id": "The client's id in the platform.",
    "security_tags": (
        "Security tags: at most 50, each 1-64 characters after trimming; tags that differ only in "
        "case count once."
    ),
    "granted": "Client ids the member can see from now on (at most 1,000 per message).",
    "revoked": "Client ids the member can no longer see (at most 1,000 per message).",
    "cause_id": (
        "The id of the message whose email this was (InvitationLinkIssued or MemberJoined)."
    ),
    "template": "The email template: `invitation` or `welcome`.",
    "to": "The recipient's address.",
    "message_id": "The SMTP Message-ID of the sent email.",
    "error": "Why the email was not accepted by the SMTP server.",
    "next_attempt_at": "When the next attempt is due (RFC 3339, UTC).",
    "attempts": "How many sending attempts were made.",
    "permanent": (
        "True when the email will not be retried (a permanent SMTP refusal or a bad address)."
    ),
    "command_id": "The id of the refused command (also in the envelope's `causationid`).",
    "command_type": "The refused command's type.",
    "reason": "Why, as a code: see the rejection reasons of the contract.",
    "detail": "Why, in words (for logs and support; not for matching).",
}

BY_MESSAGE_FIELD: dict[str, str] = {
    "InviteTeamMember.locale": (
        "The language of this invitation's emails; absent: the account's (AccountPreferencesSet),"
        " else en."
    ),
    "InvitationReminded.expires_at": "The invitation's expiry (a reminder does not move it).",
    "Invitee.email": "The invitee's email (checked per row).",
    "Invitee.roles": "1-4 distinct roles, never `owner` (checked per row).",
    "Invitee.invitee_name": "The invitee's name, to greet them (checked per row).",
    "Invitee.security_tags": "Tags applied when they join (checked per row).",
    "InviteTeamMembers.message": "The personal message of every invitation email.",
    "InviteeResult.email": "The row's email as sent (normalised when it was valid).",
    "InviteeResult.invitation_id": "The row's new invitation; null when the row was refused.",
    "InviteeResult.reason": "Why the row was refused (a rejection reason); null when invited.",
    "InviteeResult.detail": "Why, in words.",
    "InviteTeamMember.security_tags": (
        "The member's security tags, applied in the same step that makes them active (a "
        "restricted practitioner never sees an unrestricted list). Absent: untagged unless an "
        "admin tags them."
    ),
    "InviteTeamMember.expires_in_days": (
        "This invitation's lifetime in days (1-30); absent: the service's setting (7)."
    ),
    "ResendInvitation.expires_in_days": (
        "A new lifetime in days (1-30) from now; absent: the invitation's own lifetime again."
    ),
    "MemberJoined.security_tags": (
        "The tags the invitation set, applied on joining; null: the invitation set none."
    ),
    "InviteTeamMember.email": ("The invitee's email address (the service lower-cases it)."),
    "InviteTeamMember.roles": "1-4 distinct roles for the invitee; never `owner`.",
    "AcceptInvitation.email": "The signed-in user's verified email; must be the invited address.",
    "AcceptInvitation.name": "The invitee's display name, as the gateway knows it.",
    "RegisterProAccount.account_name": "The account's name (1-200 characters).",
    "ChangeMemberRoles.roles": "The member's new roles: 1-4 distinct roles, never `owner`.",
    "MemberJoined.invitation_id": (
        "The accepted invitation; null for the owner, who joins by registering."
    ),
    "MemberJoined.roles": "The roles the member joined with (the owner's are [`owner`]).",
    "MemberRolesChanged.roles": "The member's roles now.",
    "MemberDisconnected.roles": "The roles the member held when disconnected.",
    "DisconnectMember.member_id": "The member to disconnect (the owner can't be).",
    "ChangeMemberRoles.member_id": "The member whose roles change (not the owner).",
    "RegisterClient.security_tags": (
        "The client's security tags (default none: every practitioner without tags sees it; tagged"
        " practitioners see it only through a shared tag)."
    ),
    "SetClientSecurityTags.security_tags": (
        "The client's security tags from now on (replacing the old ones)."
    ),
    "SetMemberSecurityTags.security_tags": (
        "The member's security tags from now on (replacing the old ones). A practitioner with tags"
        " sees only clients sharing one."
    ),
    "ClientVisibilityChanged.member_id": "The member whose visible clients changed.",
}

ENVELOPE: dict[str, str] = {
    "specversion": "CloudEvents version: always `1.0`.",
    "id": "The message's unique id. A command's id is what its outcome names in `causationid`; "
    "re-sending a command with the same id is safe (it is applied once).",
    "source": "Who produced it: `/gateway` or `/services/<name>`.",
    "type": "The message type (the schema's title); required.",
    "time": "When it was produced (RFC 3339 with a time zone).",
    "datacontenttype": "Always `application/json`.",
    "accountid": "The Pro account it belongs to; also the Kafka record key.",
    "correlationid": "Shared by every message of one user action (set by the gateway, copied "
    "by the services).",
    "causationid": "The id of the message that caused this one (a command's outcome names the "
    "command here).",
    "actorid": "The member id of the person acting (a command's signed-in user); "
    "absent for the invitee's AcceptInvitation.",
    "data": "The message's payload.",
}


def describe_envelope(schema: dict[str, Any]) -> None:
    """The envelope attributes' descriptions (pydantic `json_schema_extra` hook)."""
    for name, prop in schema.get("properties", {}).items():
        if name in ENVELOPE:
            prop["description"] = ENVELOPE[name]


def describe(schema: dict[str, Any], model: type) -> None:
    """Fill in each property's description (pydantic `json_schema_extra` hook)."""
    for name, prop in schema.get("properties", {}).items():
        text = BY_MESSAGE_FIELD.get(f"{model.__name__}.{name}") or BY_FIELD.get(name)
        if text is not None:
            prop["description"] = text


# reason -> (what it means, what a gateway should do)
REASONS: dict[str, tuple[str, str]] = {
    "invalid": (
        "The command does not match its schema (a missing field, a bad email, the `owner` "
        "role, a limit passed); `detail` names the fields.",
        "Show `detail` as a form error. A gateway that validates against the published "
        "schemas first only sees this for addresses the RFC check refuses. Never retry as is.",
    ),
    "forbidden": (
        "The actor (`actorid`) may not do this in this account: not an active owner or "
        "administrator, or the target is the owner.",
        "Show \"You don't have permission to do that\". Don't retry.",
    ),
    "not_found": (
        "The invitation, member or client named does not exist in this account (or the "
        "member is not active).",
        "Refresh the screen: the row is gone or was never there.",
    ),
    "already_member": (
        "The email belongs to an active member of the account.",
        'Show "already on your team".',
    ),
    "already_invited": (
        "The email has a pending invitation already.",
        "Offer Resend Invite on the existing row instead.",
    ),
    "invalid_token": (
        "The accept link is not one of the invitation's live links (unknown, mistyped, or "
        "superseded by newer resends), or the invitation does not exist.",
        'Show "This invitation link is not valid" and suggest asking for a new invitation.',
    ),
    "email_mismatch": (
        "The signed-in user's email is not the invited address.",
        "Ask the invitee to sign in with the invited address (the look-up shows it masked), "
        "then accept again with the same link.",
    ),
    "expired": (
        "The invitation's expiry has passed.",
        'Show "This invitation has expired: ask for a new one"; an admin\'s Resend Invite '
        "renews it with a new link.",
    ),
    "revoked": (
        "An admin withdrew the invitation.",
        'Show "This invitation was withdrawn".',
    ),
    "already_accepted": (
        "The invitation was accepted before.",
        "If the signed-in user is the one who accepted (a second press, a retried request), "
        "treat it as success and take them in; otherwise show that the link was used.",
    ),
    "rate_limited": (
        "Too many invitations from the account this hour, or a resend sooner than the minimum "
        "interval after the last email.",
        'Show "Please wait a minute and try again"; retry later with a new command id.',
    ),
    "conflict": (
        "The account id is registered already, with another owner.",
        "Don't retry: choose another account id.",
    ),
}
