"""A bad setting stops a service with one line naming the variable and what it takes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.invitations.settings import InvitationsSettings
from services.notifications.settings import NotificationsSettings


def _start(service: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The service's own start-up, with only these variables (it must stop before connecting)."""
    return subprocess.run(
        [sys.executable, "-c", f"from services.{service}.settings import load; load()"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unknown_log_level_names_the_variable_and_the_allowed_values() -> None:
    result = _start("membership", LOG_LEVEL="verbose")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "invalid settings:"
    assert lines[1:] == [
        "  LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL' "
        "(got 'VERBOSE')"
    ]
    assert "Traceback" not in result.stderr


def test_log_levels_are_accepted_in_any_case() -> None:
    assert _start("membership", LOG_LEVEL="debug").returncode == 0


@pytest.mark.parametrize("value", ["not a url", "ftp://host/x", "/accept", "https://"])
def test_accept_url_base_must_be_an_absolute_http_url(value: str) -> None:
    result = _start("notifications", ACCEPT_URL_BASE=value)
    assert result.returncode == 1
    assert "ACCEPT_URL_BASE: must be an absolute http(s) URL" in result.stderr
    assert NotificationsSettings(accept_url_base="https://app.example.com/").accept_url_base == (
        "https://app.example.com"
    )


def test_fault_injection_is_refused_outside_test_mode() -> None:
    result = _start("invitations", FAULT_CRASH_BEFORE_PUBLISH="InvitationCreated")
    assert result.returncode == 1
    assert "FAULT_CRASH_BEFORE_PUBLISH is a test-only setting" in result.stderr
    assert "TEST_MODE=true" in result.stderr
    on = InvitationsSettings(fault_crash_before_publish="InvitationCreated", test_mode=True)
    assert on.fault_crash_before_publish == "InvitationCreated"


def test_each_bad_value_gets_its_own_line() -> None:
    result = _start("membership", HANDLER_MAX_ATTEMPTS="0", KAFKA_SECURITY_PROTOCOL="SASL_TEXT")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()[1:]
    assert len(lines) == 2
    assert any(
        line.startswith("  KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT'") for line in lines
    )
    assert "  HANDLER_MAX_ATTEMPTS: Input should be greater than or equal to 1 (got '0')" in lines


def test_every_service_command_says_its_settings_on_help() -> None:
    import subprocess
    import sys

    for service in ("invitations", "membership", "notifications", "access_control"):
        shown = subprocess.run(
            [sys.executable, "-m", f"services.{service}", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert "KAFKA_BOOTSTRAP_SERVERS" in shown.stdout and "MONGODB_URI" in shown.stdout
        assert "mongodb://" not in shown.stdout  # secrets' defaults are not shown
