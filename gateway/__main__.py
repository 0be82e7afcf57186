"""python -m gateway: serve the reference web gateway (settings: gateway/settings.py)."""

from __future__ import annotations

import logging

import uvicorn

from gateway.app import create_app
from gateway.settings import load
from pro_team_client import KafkaConnection


def run() -> None:
    settings = load()
    logging.basicConfig(level=settings.log_level)
    if not settings.session_secret.get_secret_value():
        logging.getLogger("gateway").warning(
            "SESSION_SECRET is not set: sessions are signed with a random key and end on restart"
        )
    app = create_app(settings, KafkaConnection.from_env())
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_level=settings.log_level.lower()
    )


if __name__ == "__main__":
    run()
