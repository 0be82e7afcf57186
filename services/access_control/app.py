"""The access_control service's wiring.

Its handlers are not implemented yet: it answers health only.
"""

from __future__ import annotations

from services.runtime.service import Runtime, create_runtime
from services.runtime.settings import ServiceSettings


def build(settings: ServiceSettings) -> Runtime:
    return create_runtime("access_control", settings)
