"""How a client reaches the broker: address, security protocol, SASL credentials."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
PROTOCOLS: tuple[SecurityProtocol, ...] = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
MECHANISMS: tuple[SaslMechanism, ...] = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = ""
    ssl_cafile: str = ""

    @property
    def principal(self) -> str:
        return self.sasl_username if self.uses_sasl else "ANONYMOUS"

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        return ssl.create_default_context(cafile=self.ssl_cafile or None)

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer/Consumer/AdminClient."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def env(self) -> dict[str, str]:
        """The environment variables `from_env` reads for this connection."""
        variables = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": self.security_protocol,
        }
        if self.uses_sasl:
            variables |= {
                "KAFKA_SASL_MECHANISM": self.sasl_mechanism,
                "KAFKA_SASL_USERNAME": self.sasl_username,
                "KAFKA_SASL_PASSWORD": self.sasl_password,
            }
        if self.ssl_cafile:
            variables["KAFKA_SSL_CAFILE"] = self.ssl_cafile
        return variables

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Any:
        """KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
        KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CAFILE (what `python -m stack env`
        prints for a principal)."""
        env = os.environ if environ is None else environ
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
        mechanism = env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        if protocol not in PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol!r} is not a security protocol")
        if mechanism not in MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM={mechanism!r} is not supported")
        return cls(
            env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            protocol,
            mechanism,
            env.get("KAFKA_SASL_USERNAME", ""),
            env.get("KAFKA_SASL_PASSWORD", ""),
            env.get("KAFKA_SSL_CAFILE", ""),
        )
