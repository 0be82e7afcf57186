"""The four services as processes, each on its own broker principal (from tests/e2e)."""

from tests.e2e.conftest import system as system
