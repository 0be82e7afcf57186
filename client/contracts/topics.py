"""The topic catalogue: which message types travel on which topic. Key = accountid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel

from contracts import messages as m

INVITATIONS_COMMANDS: Final = "invitations.commands"
INVITATIONS_EVENTS: Final = "invitations.events"
MEMBERSHIP_COMMANDS: Final = "membership.commands"
MEMBERSHIP_EVENTS: Final = "membership.events"
ACCESS_CONTROL_COMMANDS: Final = "access-control.commands"
ACCESS_CONTROL_EVENTS: Final = "access-control.events"
NOTIFICATIONS_EVENTS: Final = "notifications.events"
# Private: carries raw accept tokens, from invitations to notifications only.
INVITATIONS_LINKS: Final = "invitations.links"

DLQ_SUFFIX: Final = ".dlq"
PARTITIONS: Final = 6

CATALOGUE: Final[dict[str, tuple[type[BaseModel], ...]]] = {
    INVITATIONS_COMMANDS: (
        m.InviteTeamMember,
        m.InviteTeamMembers,
        m.ResendInvitation,
        m.RevokeInvitation,
        m.AcceptInvitation,
    ),
    INVITATIONS_EVENTS: (
        m.TeamMembersInvited,
        m.InvitationCreated,
        m.InvitationResent,
        m.InvitationReminded,
        m.InvitationRevoked,
        m.InvitationExpired,
        m.InvitationAccepted,
        m.CommandRejected,
    ),
    INVITATIONS_LINKS: (m.InvitationLinkIssued,),
    MEMBERSHIP_COMMANDS: (
        m.RegisterProAccount,
        m.DisconnectMember,
        m.ChangeMemberRoles,
        m.SetAccountPreferences,
    ),
    MEMBERSHIP_EVENTS: (
        m.ProAccountRegistered,
        m.AccountPreferencesSet,
        m.MemberJoined,
        m.MemberRolesChanged,
        m.MemberDisconnected,
        m.CommandRejected,
    ),
    ACCESS_CONTROL_COMMANDS: (
        m.RegisterClient,
        m.RemoveClient,
        m.SetClientSecurityTags,
        m.SetMemberSecurityTags,
    ),
    ACCESS_CONTROL_EVENTS: (
        m.ClientRegistered,
        m.ClientSecurityTagsSet,
        m.ClientRemoved,
        m.MemberSecurityTagsSet,
        m.ClientVisibilityChanged,
        m.CommandRejected,
    ),
    NOTIFICATIONS_EVENTS: (m.EmailSent, m.EmailDeferred, m.EmailFailed),
}

SOURCES: Final = {
    "gateway": "/gateway",
    "invitations": "/services/invitations",
    "membership": "/services/membership",
    "notifications": "/services/notifications",
    "access_control": "/services/access-control",
}


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def all_topics() -> list[str]:
    """Every topic of the contract and its dead-letter queue."""
    return [t for topic in CATALOGUE for t in (topic, dlq_topic(topic))]


def message_types(topic: str) -> dict[str, type[BaseModel]]:
    return {model.__name__: model for model in CATALOGUE[topic]}


def all_message_types() -> dict[str, type[BaseModel]]:
    return {model.__name__: model for models in CATALOGUE.values() for model in models}


COMMAND_TOPICS: Final = (INVITATIONS_COMMANDS, MEMBERSHIP_COMMANDS, ACCESS_CONTROL_COMMANDS)
# Where the outcome of a command on each command topic is published.
OUTCOME_TOPIC: Final = {
    INVITATIONS_COMMANDS: INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS: MEMBERSHIP_EVENTS,
    ACCESS_CONTROL_COMMANDS: ACCESS_CONTROL_EVENTS,
}


# The event that answers each command on its outcome topic (or CommandRejected).
OUTCOMES: Final[dict[type[BaseModel], type[BaseModel]]] = {
    m.InviteTeamMember: m.InvitationCreated,
    m.InviteTeamMembers: m.TeamMembersInvited,
    m.ResendInvitation: m.InvitationResent,
    m.RevokeInvitation: m.InvitationRevoked,
    m.AcceptInvitation: m.InvitationAccepted,
    m.RegisterProAccount: m.ProAccountRegistered,
    m.DisconnectMember: m.MemberDisconnected,
    m.ChangeMemberRoles: m.MemberRolesChanged,
    m.SetAccountPreferences: m.AccountPreferencesSet,
    m.RegisterClient: m.ClientRegistered,
    m.RemoveClient: m.ClientRemoved,
    m.SetClientSecurityTags: m.ClientSecurityTagsSet,
    m.SetMemberSecurityTags: m.MemberSecurityTagsSet,
}


def outcome_types(command: type[BaseModel]) -> frozenset[str]:
    """The types one of which answers `command`."""
    return frozenset({OUTCOMES[command].__name__, m.CommandRejected.__name__})


def command_topic(command: type[BaseModel]) -> str:
    """The topic a command is sent on."""
    for topic in COMMAND_TOPICS:
        if command in CATALOGUE[topic]:
            return topic
    raise ValueError(f"{command.__name__} is not a command of the contract")


COMMAND_TYPES: Final = frozenset(
    model.__name__ for topic in COMMAND_TOPICS for model in CATALOGUE[topic]
)
PUBLIC_EVENT_TOPICS: Final = (
    INVITATIONS_EVENTS,
    MEMBERSHIP_EVENTS,
    ACCESS_CONTROL_EVENTS,
    NOTIFICATIONS_EVENTS,
)


@dataclass(frozen=True)
class Access:
    """What one broker principal may do: the topics it writes and reads, its consumer groups
    (every group whose name starts with `group_prefix`), and whether it dead-letters what it
    consumes (a service writes `<topic>.dlq` for each topic it reads)."""

    produces: tuple[str, ...]
    consumes: tuple[str, ...]
    group_prefix: str
    writes_dlq: bool = True


ACCESS: Final[dict[str, Access]] = {
    "invitations": Access(
        (INVITATIONS_EVENTS, INVITATIONS_LINKS),
        (INVITATIONS_COMMANDS, MEMBERSHIP_EVENTS),
        "invitations",
    ),
    "membership": Access(
        (MEMBERSHIP_EVENTS,),
        (MEMBERSHIP_COMMANDS, INVITATIONS_EVENTS, NOTIFICATIONS_EVENTS),
        "membership",
    ),
    "notifications": Access(
        (NOTIFICATIONS_EVENTS,), (INVITATIONS_LINKS, MEMBERSHIP_EVENTS), "notifications"
    ),
    "access_control": Access(
        (ACCESS_CONTROL_EVENTS,), (ACCESS_CONTROL_COMMANDS, MEMBERSHIP_EVENTS), "access_control"
    ),
    "gateway": Access(COMMAND_TOPICS, PUBLIC_EVENT_TOPICS, "gateway", writes_dlq=False),
    "downstream": Access((), PUBLIC_EVENT_TOPICS, "downstream", writes_dlq=False),
}
