"""The HTTP APIs' request and response bodies: the services answer with these models (their
OpenAPI documents are generated from them) and the client parses with them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """RFC 9457 problem details: every error of every HTTP API (`application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem (its last part: a code).")
    title: str = Field(description="The HTTP status in words.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for a person.")
    instance: str = Field(description="The path that was asked for.")

    @property
    def code(self) -> str:
        """The last part of `type`, e.g. `invalid_token`, `rate_limited`, `not-found`."""
        return self.type.rsplit("/", 1)[-1]


class UserStatus(StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    ACTIVE = "active"
    DISCONNECTED = "disconnected"


class EmailDelivery(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


class UserRow(BaseModel):
    """One person on the Users page."""

    member_id: str | None = Field(description="The member id; null until the invitee joins.")
    invitation_id: str | None = Field(description="The latest invitation of this person.")
    email: str = Field(description="The person's email (lower case).")
    name: str | None = Field(description="The display name, when known.")
    roles: list[str] = Field(description="The roles held, or offered by a pending invitation.")
    status: UserStatus = Field(description="active, pending, expired or disconnected.")
    invited_at: str | None = Field(description="When the latest invitation was sent.")
    joined_at: str | None = Field(description="When the person joined.")
    expires_at: str | None = Field(description="When a pending invitation expires.")
    resend_count: int = Field(description="How many times the invitation was resent.")
    security_tags: list[str] | None = Field(
        default=None,
        description="Pending rows: the tags the invitation applies when the invitee joins "
        "(null: none set). Members' tags: access control's visible-clients.",
    )
    email_status: EmailDelivery | None = Field(
        default=None,
        description="Pending and expired rows: the latest invitation email's delivery "
        "(sending, sent, retrying, failed); a resend starts again at sending. Null for members.",
    )
    email_failure: str | None = Field(
        default=None, description="Why the email failed for good (email_status failed)."
    )


class UsersPage(BaseModel):
    users: list[UserRow] = Field(description="A page of rows, in email order.")
    next: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


class VisibleClients(BaseModel):
    member_id: str = Field(description="The member asked about.")
    clients: list[str] = Field(description="A page of the client ids they see, sorted.")
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    REVOKED = "revoked"


class LookupRequest(BaseModel):
    token: str = Field(min_length=1, max_length=256, description="The link's `token` parameter.")


class InvitationLookup(BaseModel):
    """What an accept link invites to (the accept page shows it before the invitee accepts)."""

    invitation_id: str = Field(description="The invitation.")
    status: InvitationStatus = Field(description="pending, accepted, expired or revoked.")
    account_name: str = Field(description="The Pro account the invitee is asked to join.")
    inviter_name: str | None = Field(description="Who invited them, when known.")
    roles: list[str] = Field(description="The roles they will have.")
    expires_at: str = Field(description="When the invitation expires (RFC 3339, UTC).")
    email_masked: str = Field(
        description="The invited address, masked (`a***@example.com`): the invitee must sign "
        "in with that address to accept."
    )


class MemberTags(BaseModel):
    """A member's security tags as access control holds them (as written, case kept)."""

    member_id: str = Field(description="The member asked about.")
    security_tags: list[str] = Field(
        description="The member's tags: they see the clients carrying one of them (owners and "
        "administrators, and members without tags, see every client)."
    )


class ClientRow(BaseModel):
    client_id: str = Field(description="The client.")
    security_tags: list[str] = Field(description="The client's tags (as written, case kept).")


class ClientsPage(BaseModel):
    clients: list[ClientRow] = Field(description="A page of the account's clients, by id.")
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")
