"""Every message of the wire contract: one `data` model per type."""

from __future__ import annotations

from pydantic import Field

from contracts.common import (
    CustomMessage,
    Email,
    EntityId,
    EventEmail,
    ExpiresInDays,
    InvitationId,
    Locale,
    MemberRoles,
    PersonName,
    RejectionReason,
    Role,
    SecurityTags,
    TeamRoles,
    Timestamp,
    TimeZone,
)
from contracts.envelope import MessageData

# ---- invitations.commands ---------------------------------------------------------------


class InviteTeamMember(MessageData):
    """Invite a person to join the account's team. Outcome: InvitationCreated."""

    email: Email
    roles: TeamRoles
    message: CustomMessage | None = None
    inviter_name: PersonName | None = None
    invitee_name: PersonName | None = None
    security_tags: SecurityTags | None = None
    expires_in_days: ExpiresInDays | None = None
    locale: Locale | None = None


MAX_INVITEES = 100


class Invitee(MessageData):
    """One row of InviteTeamMembers. Only its shape is checked with the command; each row is
    then checked as an InviteTeamMember of its own, so a bad row is refused alone."""

    email: str = Field(max_length=320)
    roles: list[str] = Field(max_length=10)
    invitee_name: str | None = Field(default=None, max_length=1000)
    security_tags: list[str] | None = Field(default=None, max_length=1000)


class InviteTeamMembers(MessageData):
    """Invite up to 100 people in one command (one message for all). Outcome:
    TeamMembersInvited (one result per row); each invitation also gets its InvitationCreated."""

    invitees: list[Invitee] = Field(min_length=1, max_length=MAX_INVITEES)
    message: CustomMessage | None = None
    inviter_name: PersonName | None = None
    expires_in_days: ExpiresInDays | None = None
    locale: Locale | None = None


class ResendInvitation(MessageData):
    """Send a pending invitation's email again with a new link. Outcome: InvitationResent."""

    invitation_id: InvitationId
    expires_in_days: ExpiresInDays | None = None


class RevokeInvitation(MessageData):
    """Withdraw a pending invitation. Outcome: InvitationRevoked."""

    invitation_id: InvitationId


class AcceptInvitation(MessageData):
    """The invitee pressed Accept Invitation (sent without `actorid`). Outcome:
    InvitationAccepted; then membership publishes MemberJoined."""

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
    security_tags: list[str] | None = None
    locale: Locale | None = None


class InvitationCreated(InvitationDetails):
    """A new pending invitation (the Users page shows it as Pending)."""


class InvitationResent(InvitationCreated):
    """The invitation's email was sent again with a new link and a new expiry."""

    resend_count: int = Field(ge=1)


# ---- invitations.links (private: only the notifications principal may read it) ----------


class InvitationLinkIssued(InvitationDetails):
    """A new accept link: its raw token and what the invitation email says. Published with each
    InvitationCreated (resend_count 0) and InvitationResent (a reminder, resend_count >= 1)."""

    resend_count: int = Field(default=0, ge=0)
    accept_token: str


class InviteeResult(MessageData):
    """What became of one row of InviteTeamMembers."""

    index: int = Field(ge=0)
    email: str
    invitation_id: InvitationId | None = None
    reason: RejectionReason | None = None
    detail: str | None = None


class TeamMembersInvited(MessageData):
    """The outcome of InviteTeamMembers: one result per row, in the rows' order."""

    results: list[InviteeResult]


class InvitationReminded(MessageData):
    """The sweeper sent an automatic reminder with a new link (the account's reminder setting;
    at most one per link an admin sent). The expiry is unchanged; earlier links still work."""

    invitation_id: InvitationId
    email: EventEmail
    expires_at: Timestamp
    reminders: int = Field(ge=1)


class InvitationRevoked(MessageData):
    """An admin withdrew the invitation; its links no longer work."""

    invitation_id: InvitationId
    email: EventEmail
    revoked_by: EntityId


class InvitationExpired(MessageData):
    """The invitation's expiry passed before it was accepted."""

    invitation_id: InvitationId
    email: EventEmail


class InvitationAccepted(MessageData):
    """The invitee accepted; membership makes them a member (MemberJoined)."""

    invitation_id: InvitationId
    email: EventEmail
    roles: list[Role]
    user_id: EntityId
    name: str | None = None
    invited_by: EntityId
    accepted_at: Timestamp
    security_tags: list[str] | None = None


# ---- membership.commands ----------------------------------------------------------------


class RegisterProAccount(MessageData):
    """Create a Pro account with its owner as first member. Outcome: ProAccountRegistered."""

    account_name: str = Field(min_length=1, max_length=200)
    owner_user_id: EntityId
    owner_email: Email
    owner_name: PersonName | None = None


class SetAccountPreferences(MessageData):
    """Change the account's preferences (owner or administrator); absent fields keep their
    value. Outcome: AccountPreferencesSet."""

    invitation_reminders: bool | None = None
    reminder_days_before_expiry: int | None = Field(default=None, ge=1, le=29)
    locale: Locale | None = None
    time_zone: TimeZone | None = None


class DisconnectMember(MessageData):
    """Remove a member from the team (the trash icon). Outcome: MemberDisconnected."""

    member_id: EntityId


class ChangeMemberRoles(MessageData):
    """Give a member other roles. Outcome: MemberRolesChanged."""

    member_id: EntityId
    roles: TeamRoles


# ---- membership.events ------------------------------------------------------------------


class ProAccountRegistered(MessageData):
    """The account exists (published again, same id, for a repeated registration)."""

    account_name: str
    owner_user_id: EntityId
    owner_email: EventEmail


class AccountPreferencesSet(MessageData):
    """The account's preferences now (all of them)."""

    invitation_reminders: bool
    reminder_days_before_expiry: int = Field(ge=1, le=29)
    locale: Locale
    time_zone: str


class MemberJoined(MessageData):
    """A person became an active member (the owner on registration, an invitee on accepting)."""

    member_id: EntityId
    email: EventEmail
    name: str | None = None
    roles: MemberRoles
    invitation_id: InvitationId | None = None
    joined_at: Timestamp
    security_tags: list[str] | None = None


class MemberRolesChanged(MessageData):
    """A member's roles changed."""

    member_id: EntityId
    roles: MemberRoles
    previous_roles: MemberRoles
    changed_by: EntityId


class MemberDisconnected(MessageData):
    """A member was removed from the team; they see no client any more."""

    member_id: EntityId
    email: EventEmail
    roles: MemberRoles
    disconnected_by: EntityId
    disconnected_at: Timestamp


# ---- access-control.commands ------------------------------------------------------------


class RegisterClient(MessageData):
    """Make a client known to access control (again: revives a removed one). Outcome:
    ClientRegistered."""

    client_id: EntityId
    security_tags: SecurityTags = Field(default_factory=list)


class RemoveClient(MessageData):
    """Nobody sees the client any more. Outcome: ClientRemoved."""

    client_id: EntityId


class SetClientSecurityTags(MessageData):
    """Replace a client's security tags. Outcome: ClientSecurityTagsSet."""

    client_id: EntityId
    security_tags: SecurityTags


class SetMemberSecurityTags(MessageData):
    """Replace a member's security tags (allowed before they join: applied on joining).
    Outcome: MemberSecurityTagsSet."""

    member_id: EntityId
    security_tags: SecurityTags


# ---- access-control.events --------------------------------------------------------------

MAX_VISIBILITY_IDS = 1000


class ClientRegistered(MessageData):
    """RegisterClient was applied (whatever visibility it changed follows as
    ClientVisibilityChanged)."""

    client_id: EntityId
    security_tags: list[str]


class ClientSecurityTagsSet(MessageData):
    """SetClientSecurityTags was applied."""

    client_id: EntityId
    security_tags: list[str]


class ClientRemoved(MessageData):
    """RemoveClient was applied."""

    client_id: EntityId


class MemberSecurityTagsSet(MessageData):
    """SetMemberSecurityTags was applied."""

    member_id: EntityId
    security_tags: list[str]


class ClientVisibilityChanged(MessageData):
    """Which clients one member gained or lost (a change of more than 1,000 ids is split into
    several messages)."""

    member_id: EntityId
    granted: list[EntityId] = Field(default_factory=list, max_length=MAX_VISIBILITY_IDS)
    revoked: list[EntityId] = Field(default_factory=list, max_length=MAX_VISIBILITY_IDS)


# ---- notifications.events ---------------------------------------------------------------


class EmailSent(MessageData):
    """An email was accepted by the SMTP server."""

    cause_id: str
    template: str
    to: str
    message_id: str


class EmailDeferred(MessageData):
    """An email's first attempt failed for a reason that may pass (the SMTP server is away,
    4xx): it will be retried. EmailSent or EmailFailed follows."""

    cause_id: str
    template: str
    to: str
    error: str
    attempts: int = Field(ge=1)
    next_attempt_at: Timestamp


class EmailFailed(MessageData):
    """An email could not be sent (retrying, or given up when `permanent`)."""

    cause_id: str
    template: str
    to: str
    error: str
    attempts: int = Field(ge=0)
    permanent: bool


# ---- every events topic -----------------------------------------------------------------


class CommandRejected(MessageData):
    """A command was refused and changed nothing; on the events topic of the service that
    owns the command."""

    command_id: str
    command_type: str
    reason: RejectionReason
    detail: str
