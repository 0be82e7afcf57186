"""The broker's principals (SASL/SCRAM-SHA-512) and their ACLs, derived from the contract.

Each principal gets exactly what `contracts.topics.ACCESS` says: WRITE (and DESCRIBE) on the
topics it produces, READ (and DESCRIBE) on the topics it consumes, READ on the consumer groups
named after it (prefix), and, for producers, the cluster's IDEMPOTENT_WRITE that an idempotent
producer needs. Only the stack's admin is a super user.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DescribeAclsRequest

from contracts.topics import ACCESS, Access, dlq_topic

ADMIN = "admin"
MECHANISM: Final = "SCRAM-SHA-512"

# Kafka's wire enums (org.apache.kafka.common.acl / resource).
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED = 3, 4
READ, WRITE, DESCRIBE, IDEMPOTENT_WRITE = 3, 4, 8, 12
ALLOW = 3
ANY_RESOURCE, ANY_PATTERN, ANY_OPERATION, ANY_PERMISSION = 1, 1, 1, 1
CLUSTER_NAME = "kafka-cluster"


@dataclass(frozen=True, order=True)
class Acl:
    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    operation: int


def acls_for(name: str, access: Access) -> list[Acl]:
    principal = f"User:{name}"
    acls: list[Acl] = []
    produced = [*access.produces, *(dlq_topic(t) for t in access.consumes if access.writes_dlq)]
    for topic in produced:
        acls += [Acl(TOPIC, topic, LITERAL, principal, op) for op in (WRITE, DESCRIBE)]
    for topic in access.consumes:
        acls += [Acl(TOPIC, topic, LITERAL, principal, op) for op in (READ, DESCRIBE)]
    if access.consumes:
        acls.append(Acl(GROUP, access.group_prefix, PREFIXED, principal, READ))
    if produced:
        acls.append(Acl(CLUSTER, CLUSTER_NAME, LITERAL, principal, IDEMPOTENT_WRITE))
    return acls


def all_acls() -> list[Acl]:
    return sorted(acl for name, access in ACCESS.items() for acl in acls_for(name, access))


async def _existing(admin: AIOKafkaAdminClient) -> set[Acl]:
    request = DescribeAclsRequest(
        ANY_RESOURCE, None, ANY_PATTERN, None, None, ANY_OPERATION, ANY_PERMISSION
    )
    response = await admin._send_to_controller(request)
    if response.error_code:
        raise RuntimeError(f"DescribeAcls failed: {response.error_message}")
    found = set()
    for resource_type, name, pattern, acls in response.resources:
        for principal, _host, operation, permission in acls:
            if permission == ALLOW:
                found.add(Acl(resource_type, name, pattern, principal, operation))
    return found


async def apply(admin: AIOKafkaAdminClient) -> int:
    """Create the ACLs that are missing; returns how many it created."""
    missing = [acl for acl in all_acls() if acl not in await _existing(admin)]
    for acl in missing:
        request = CreateAclsRequest(
            acl.resource_type,
            acl.resource_name,
            acl.pattern_type,
            acl.principal,
            "*",
            acl.operation,
            ALLOW,
        )
        response = await admin._send_to_controller(request)
        for error_code, error_message in response.creation_responses:
            if error_code:
                raise RuntimeError(f"CreateAcls {acl} failed: {error_message}")
    return len(missing)


def apply_sync(admin_factory: type[AIOKafkaAdminClient], **client: object) -> int:
    async def run() -> int:
        admin = admin_factory(**client)
        await admin.start()
        try:
            return await apply(admin)
        finally:
            await admin.close()

    return asyncio.run(run())
