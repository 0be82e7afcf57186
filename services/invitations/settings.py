"""Settings of the invitations service (environment variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from services.invitations.domain import Policy, ReminderRule
from services.runtime.settings import ServiceSettings, load_settings


class InvitationsSettings(ServiceSettings):
    http_port: int = 8101
    invitation_ttl_days: float = Field(default=7, gt=0)
    invites_per_account_per_hour: int = Field(default=200, ge=1)
    resend_min_interval_seconds: float = Field(default=60, ge=0)
    max_message_chars: int = Field(default=2000, ge=0, le=2000)
    live_links_per_invitation: int = Field(default=5, ge=1)
    expiry_sweep_seconds: float = Field(default=30, gt=0)
    # Automatic reminders, for accounts that have not set their own (SetAccountPreferences).
    invitation_reminders: bool = True
    reminder_days_before_expiry: int = Field(default=2, ge=1, le=29)
    # The accept page's look-up: at most this many per invitation per minute (per instance).
    lookups_per_invitation_per_minute: int = Field(default=10, ge=1)
    # How long a command from an actor the membership projection doesn't know yet waits for
    # the projection to catch up before it is refused (membership.events is another topic).
    projection_grace_seconds: float = Field(default=5.0, ge=0)
    # Fault injection for crash-safety tests: die with SIGKILL after the document write and
    # before publishing an event of this type. Empty = off; refused unless TEST_MODE is on.
    fault_crash_before_publish: str = ""

    @model_validator(mode="after")
    def _faults_only_in_test_mode(self) -> InvitationsSettings:
        if self.fault_crash_before_publish and not self.test_mode:
            raise ValueError(
                "FAULT_CRASH_BEFORE_PUBLISH is a test-only setting: it takes effect only with "
                "TEST_MODE=true"
            )
        return self

    def reminder_rule(self) -> ReminderRule:
        return ReminderRule(self.invitation_reminders, self.reminder_days_before_expiry)

    def policy(self) -> Policy:
        return Policy(
            ttl=timedelta(days=self.invitation_ttl_days),
            invites_per_account_per_hour=self.invites_per_account_per_hour,
            resend_interval=timedelta(seconds=self.resend_min_interval_seconds),
            max_message_chars=self.max_message_chars,
            live_links=self.live_links_per_invitation,
        )


def load() -> InvitationsSettings:
    return load_settings(InvitationsSettings)
