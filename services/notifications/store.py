"""Deliveries (one per cause event, with its outbox) and account names."""

from __future__ import annotations

from datetime import datetime

from services.notifications.delivery import Delivery, DeliveryStatus
from services.runtime.collection import Document, Index
from services.runtime.projection import AccountNames
from services.runtime.service import Runtime
from services.runtime.unit_of_work import Repository, Stored


class DeliveryCodec:
    def key(self, state: Delivery) -> str:
        return state.cause_id

    def encode(self, state: Delivery) -> Document:
        return {
            "template": state.template,
            "accountid": state.account_id,
            "correlationid": state.correlation_id,
            "to": state.to,
            "message_id": state.message_id,
            "created_at": state.created_at,
            "status": state.status.value,
            "attempts": state.attempts,
            "to_name": state.to_name,
            "subject": state.subject,
            "html": state.html,
            "text": state.text,
            "next_attempt_at": state.next_attempt_at,
            "last_error": state.last_error,
            "sent_at": state.sent_at,
        }

    def decode(self, doc: Document) -> Delivery:
        return Delivery(
            cause_id=doc["_id"],
            template=doc["template"],
            account_id=doc["accountid"],
            correlation_id=doc["correlationid"],
            to=doc["to"],
            message_id=doc["message_id"],
            created_at=doc["created_at"],
            status=DeliveryStatus(doc["status"]),
            attempts=doc.get("attempts", 0),
            to_name=doc.get("to_name") or "",
            subject=doc.get("subject") or "",
            html=doc.get("html"),
            text=doc.get("text"),
            next_attempt_at=doc.get("next_attempt_at"),
            last_error=doc.get("last_error"),
            sent_at=doc.get("sent_at"),
        )


class DeliveryStore:
    def __init__(self, runtime: Runtime) -> None:
        deliveries = runtime.collection("deliveries", Index(("status", "next_attempt_at")))
        self.deliveries = Repository(deliveries, DeliveryCodec())
        self.accounts = AccountNames(runtime.collection("accounts", outbox=False))

    async def document(self, cause_id: str) -> Document | None:
        """The delivery as stored (operators and tests)."""
        return await self.deliveries.collection.get(cause_id)

    async def due(self, now: datetime, limit: int = 100) -> list[Stored[Delivery]]:
        where = {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}}
        return await self.deliveries.load_many(where, limit=limit)
