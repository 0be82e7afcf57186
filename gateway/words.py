"""Outcomes and refusals in plain language, for the person who pressed the button."""

from __future__ import annotations

import re

from pydantic import ValidationError

from pro_team_client import Outcome

# What each refusal means, whatever the command (a command's own sentence, below, wins).
REASONS = {
    "invalid": "Something in the form is not right",
    "forbidden": "Your role does not allow this",
    "not_found": "That no longer exists here (someone may have changed it a moment ago)",
    "already_member": "This person is already a member of the team",
    "already_invited": "This person already has a pending invitation: resend it instead",
    "invalid_token": "This invitation link is not valid",
    "email_mismatch": "This invitation was sent to another email address",
    "expired": "This invitation has expired",
    "revoked": "This invitation was withdrawn",
    "already_accepted": "This invitation has already been accepted",
    "rate_limited": "Too many requests in a short time: try again later",
    "conflict": "That clashes with a change someone else made: reload and try again",
}

BY_COMMAND = {
    ("ResendInvitation", "rate_limited"): "Not resent: an invitation can be resent once every "
    "{interval}, and this one went out less than that ago. Try again later",
    ("InviteTeamMember", "rate_limited"): "Not sent: this account has sent as many invitations "
    "as it may in an hour. Try again later",
    ("DisconnectMember", "forbidden"): "You cannot disconnect this member (the owner, and you "
    "yourself, stay)",
}

_SECONDS = re.compile(r"(\d+) s\b")


def duration(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds >= 3600:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"


def refusal(command_type: str, reason: str, detail: str = "") -> str:
    """The sentence a page shows for a refused command, with the service's detail after it."""
    sentence = BY_COMMAND.get((command_type, reason)) or REASONS.get(reason, f"Refused ({reason})")
    seconds = _SECONDS.search(detail)
    if "{interval}" in sentence:
        sentence = sentence.format(interval=duration(int(seconds.group(1))) if seconds else "while")
    return f"{sentence}." + (f" (Details: {detail})" if detail else "")


def of_outcome(outcome: Outcome) -> str | None:
    """The refusal's sentence, or None when the command was accepted."""
    if not outcome.rejected:
        return None
    data = outcome.data
    return refusal(data.command_type, data.reason.value, data.detail)


def of_invalid_form(error: ValidationError) -> str:
    """A form the contract refuses before anything is sent, field by field."""
    parts = []
    for problem in error.errors():
        field = ".".join(str(p) for p in problem["loc"]) or "form"
        parts.append(f"{field.replace('_', ' ')}: {problem['msg']}")
    return "Please check the form: " + "; ".join(parts) + "."


STILL_ON_ITS_WAY = (
    "Sent, but no answer came back in time: it will most likely be applied in a moment. "
    "Reload the page to see."
)
