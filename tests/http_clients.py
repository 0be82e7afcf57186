"""HTTP clients for the tests' calls to local servers."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

# httpx builds a TLS context (loading the system's CA bundle, about 10 ms of CPU) for every
# client it makes unless it is given one; the tests and benchmarks poll over plain HTTP several
# times a second, and on a loaded two-core machine that CPU is taken from the servers measured.
_TLS = ssl.create_default_context()


def local_client(base_url: str, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, verify=_TLS, **options)
