"""The client package stands alone."""

from __future__ import annotations


def test_the_client_package_imports_without_the_services() -> None:
    """A gateway installs client/ alone: nothing in it may reach into services/."""
    import subprocess
    import sys

    probe = (
        "import sys, pro_team_client, contracts.messages, contracts.http, contracts.samples;"
        "bad = [m for m in sys.modules if m == 'services' or m.startswith('services.')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
