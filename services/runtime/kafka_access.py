"""How a process reaches the broker (the client package's `KafkaConnection`), plus what only
a service or the stack needs: a FastStream security object, another principal's access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from pro_team_client.connection import KafkaConnection, SaslMechanism, SecurityProtocol

_SASL_CLASSES = {
    "SCRAM-SHA-512": SASLScram512,
    "SCRAM-SHA-256": SASLScram256,
    "PLAIN": SASLPlaintext,
}

__all__ = ["KafkaAccess", "SaslMechanism", "SecurityProtocol"]


@dataclass(frozen=True)
class KafkaAccess(KafkaConnection):
    def faststream_security(self) -> BaseSecurity | None:
        if self.uses_sasl:
            return _SASL_CLASSES[self.sasl_mechanism](
                self.sasl_username,
                self.sasl_password,
                ssl_context=self.ssl_context(),
                use_ssl=self.uses_tls,
            )
        if self.uses_tls:
            return BaseSecurity(ssl_context=self.ssl_context(), use_ssl=True)
        return None

    def as_principal(self, username: str, password: str) -> KafkaAccess:
        return KafkaAccess(
            self.bootstrap_servers,
            self.security_protocol,
            self.sasl_mechanism,
            username,
            password,
            self.ssl_cafile,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaAccess:
        access: KafkaAccess = super().from_env(environ)
        return access
