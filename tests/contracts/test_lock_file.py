"""The lock files hold every pin of pyproject.toml, at the same version, with hashes: the image
installs `requirements.lock`, `make install` installs `requirements-dev.lock`, both with
`pip --require-hashes`, so nothing unpinned or unverified reaches either."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        name, version = requirement.split("==")
        pins[_normal(name.split("[")[0])] = version
    return pins


def _locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)"""
    locked: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)", line)
        if pinned:
            current = _normal(pinned.group(1))
            locked[current] = (pinned.group(2), 0)
        elif "--hash=sha256:" in line and current:
            version, hashes = locked[current]
            locked[current] = (version, hashes + 1)
    return locked


def test_every_runtime_pin_is_locked_with_hashes() -> None:
    runtime = _locked(ROOT / "requirements.lock")
    for name, version in _pins(PROJECT["dependencies"]).items():
        assert runtime.get(name, ("", 0))[0] == version, (
            f"{name}=={version} not in requirements.lock"
        )
    assert all(hashes > 0 for _, hashes in runtime.values())
    assert "pytest" not in runtime  # the image carries no test tools


def test_every_dev_pin_is_locked_with_hashes() -> None:
    dev = _locked(ROOT / "requirements-dev.lock")
    pins = {**_pins(PROJECT["dependencies"]), **_pins(PROJECT["optional-dependencies"]["dev"])}
    for name, version in pins.items():
        assert dev.get(name, ("", 0))[0] == version, (
            f"{name}=={version} not in requirements-dev.lock"
        )
    assert all(hashes > 0 for _, hashes in dev.values())
    runtime = _locked(ROOT / "requirements.lock")
    assert all(dev[name][0] == version for name, (version, _) in runtime.items())


def test_the_client_packages_dependencies_are_in_the_runtime_lock() -> None:
    """The image installs client/ without its dependencies (the services import its
    `contracts` and `pro_team_client.connection`): each must come from requirements.lock."""
    client = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())["project"]
    runtime = _locked(ROOT / "requirements.lock")
    names = [
        _normal(re.split(r"[<>=\[ ]", requirement)[0]) for requirement in client["dependencies"]
    ]
    assert [name for name in names if name not in runtime] == []
