"""Every message of the wire contract: one `data` model per type."""

from __future__ import annotations

from pydantic import Field

from contracts.common import (
    CustomMessage,
    Email,
    EntityId,
    EventEmail,
    InvitationId,
    MemberRoles,
    PersonName,
    RejectionReason,
    Role,
    SecurityTags,
    TeamRoles,
    Timestamp,
)
from contracts.envelope import MessageData

# ---- invitations.commands ---------------------------------------------------------------


class InviteTeamMember(MessageData):
    email: Email
    roles: TeamRoles
    message: CustomMessage | None = None
    inviter_name: PersonName | None = None
    invitee_name: PersonName | None = None


class ResendInvitation(MessageData):
    invitation_id: InvitationId


class RevokeInvitation(MessageData):
    invitation_id: InvitationId


class AcceptInvitation(MessageData):
    invitation_id: InvitationId
    token: str = Field(min_length=1, max_length=256)
    user_id: EntityId
    email: Email
    name: PersonName | None = None


# ---- invitations.events -----------------------------------------------------------------


class InvitationDetails(MessageData):
    """What an invitation says: shared by its public event and its private link."""

    invitation_id: InvitationId
    email: EventEmail
    roles: list[Role]
    message: str | None = None
    invitee_name: str | None = None
    inviter_id: EntityId
    inviter_name: str | None = None
    account_name: str
    expires_at: Timestamp


class InvitationCreated(InvitationDetails):
    pass


class InvitationResent(InvitationCreated):
    resend_count: int = Field(ge=1)


# ---- invitations.links (private: only the notifications principal may read it) ----------


class InvitationLinkIssued(InvitationDetails):
    """A new accept link: its raw token and what the invitation email says. Published with each
    InvitationCreated (resend_count 0) and InvitationResent (a reminder, resend_count >= 1)."""

    resend_count: int = Field(default=0, ge=0)
    accept_token: str


class InvitationRevoked(MessageData):
    invitation_id: InvitationId
    email: EventEmail
    revoked_by: EntityId


class InvitationExpired(MessageData):
    invitation_id: InvitationId
    email: EventEmail


class InvitationAccepted(MessageData):
    invitation_id: InvitationId
    email: EventEmail
    roles: list[Role]
    user_id: EntityId
    name: str | None = None
    invited_by: EntityId
    accepted_at: Timestamp


# ---- membership.commands ----------------------------------------------------------------


class RegisterProAccount(MessageData):
    account_name: str = Field(min_length=1, max_length=200)
    owner_user_id: EntityId
    owner_email: Email
    owner_name: PersonName | None = None


class DisconnectMember(MessageData):
    member_id: EntityId


class ChangeMemberRoles(MessageData):
    member_id: EntityId
    roles: TeamRoles


# ---- membership.events ------------------------------------------------------------------


class ProAccountRegistered(MessageData):
    account_name: str
    owner_user_id: EntityId
    owner_email: EventEmail


class MemberJoined(MessageData):
    member_id: EntityId
    email: EventEmail
    name: str | None = None
    roles: MemberRoles
    invitation_id: InvitationId | None = None
    joined_at: Timestamp


class MemberRolesChanged(MessageData):
    member_id: EntityId
    roles: MemberRoles
    previous_roles: MemberRoles
    changed_by: EntityId


class MemberDisconnected(MessageData):
    member_id: EntityId
    email: EventEmail
    roles: MemberRoles
    disconnected_by: EntityId
    disconnected_at: Timestamp


# ---- access-control.commands ------------------------------------------------------------


class RegisterClient(MessageData):
    client_id: EntityId
    security_tags: SecurityTags = Field(default_factory=list)


class RemoveClient(MessageData):
    client_id: EntityId


class SetClientSecurityTags(MessageData):
    client_id: EntityId
    security_tags: SecurityTags


class SetMemberSecurityTags(MessageData):
    member_id: EntityId
    security_tags: SecurityTags


# ---- access-control.events --------------------------------------------------------------

MAX_VISIBILITY_IDS = 1000


class ClientVisibilityChanged(MessageData):
    member_id: EntityId
    granted: list[EntityId] = Field(default_factory=list, max_length=MAX_VISIBILITY_IDS)
    revoked: list[EntityId] = Field(default_factory=list, max_length=MAX_VISIBILITY_IDS)


# ---- notifications.events ---------------------------------------------------------------


class EmailSent(MessageData):
    cause_id: str
    template: str
    to: str
    message_id: str


class EmailFailed(MessageData):
    cause_id: str
    template: str
    to: str
    error: str
    attempts: int = Field(ge=0)
    permanent: bool


# ---- every events topic -----------------------------------------------------------------


class CommandRejected(MessageData):
    command_id: str
    command_type: str
    reason: RejectionReason
    detail: str
