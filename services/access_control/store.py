"""How access_control's aggregates are stored: members (roles, status, tags) and clients."""

from __future__ import annotations

from datetime import timedelta

from services.access_control.domain import Client, MemberAccess
from services.access_control.history import COLLECTION, INDEXES, History
from services.access_control.page_plan import KeptCounts, walk_is_cheaper
from services.access_control.visibility import (
    SEE_ALL_ROLES,
    ClientFacts,
    MemberFacts,
    Scope,
    fold,
)
from services.runtime.collection import Document, Index
from services.runtime.kept_documents import KeptDocuments
from services.runtime.service import Runtime
from services.runtime.unit_of_work import Repository, field_values

LIVE_CLIENTS = {"removed": False}
COUNTS_KEPT = timedelta(minutes=1)  # how long a page's plan trusts the counts it rests on
MEMBER_FIELDS = ("account_id", "member_id", "status", "roles", "security_tags", "tags")
SEP = "|"  # above every character an id may hold (contracts.common.ID_PATTERN)


def key(account_id: str, entity_id: str) -> str:
    return f"{account_id}{SEP}{entity_id}"


class MemberCodec:
    def key(self, state: MemberAccess) -> str:
        return key(state.account_id, state.member_id)

    def encode(self, state: MemberAccess) -> Document:
        doc = field_values(state)
        doc["roles"] = list(state.roles)
        doc["security_tags"] = list(state.security_tags)
        doc["tags"] = sorted(fold(state.security_tags))  # what the API's query matches
        return doc

    def decode(self, doc: Document) -> MemberAccess:
        return MemberAccess(
            doc["account_id"],
            doc["member_id"],
            doc.get("status"),
            tuple(doc.get("roles", [])),
            _tags(doc),
        )


class ClientCodec:
    def key(self, state: Client) -> str:
        return key(state.account_id, state.client_id)

    def encode(self, state: Client) -> Document:
        doc = field_values(state)
        doc["security_tags"] = list(state.security_tags)
        doc["tags"] = sorted(fold(state.security_tags))
        return doc

    def decode(self, doc: Document) -> Client:
        return Client(
            doc["account_id"],
            doc["client_id"],
            _tags(doc),
            bool(doc.get("removed", False)),
        )


class AccessStore:
    def __init__(self, runtime: Runtime) -> None:
        # the members and clients this instance wrote: their next change need not read them
        self.kept_members, self.kept_clients = KeptDocuments(), KeptDocuments()
        self.members = Repository(
            runtime.collection("members", Index(("account_id",))), MemberCodec(), self.kept_members
        )
        self.clients = Repository(
            runtime.collection(
                "clients", Index(("account_id", "client_id")), Index(("account_id", "tags"))
            ),
            ClientCodec(),
            self.kept_clients,
        )
        self.history = History(
            runtime.collection(COLLECTION, *INDEXES, outbox=False), runtime.outbox.local_written
        )
        self._counts = KeptCounts(runtime.clock, COUNTS_KEPT)

    async def member(self, account_id: str, member_id: str) -> Document | None:
        """The member's document as stored (operators and tests)."""
        return await self.members.collection.get(key(account_id, member_id))

    async def client(self, account_id: str, client_id: str) -> Document | None:
        return await self.clients.collection.get(key(account_id, client_id))

    async def member_state(self, account_id: str, member_id: str) -> MemberAccess | None:
        """A member as the API and the authoriser see it, read lean: the document also keeps
        the commands it remembers with their outcomes (200 of them, 123 KB: 1.1-1.3 ms whole
        against 0.6-0.7 for these fields in `bench.access_control`)."""
        docs = await self.members.collection.find(
            {"_id": key(account_id, member_id)}, only=MEMBER_FIELDS, limit=1
        )
        return self.members.codec.decode(docs[0]) if docs else None

    async def client_facts(self, account_id: str, client_id: str) -> ClientFacts | None:
        """A live client's facts, read lean (None: unknown or removed)."""
        found = await self._client_facts({"_id": key(account_id, client_id)}, limit=1)
        return found[0] if found else None

    async def all_members(self, account_id: str) -> list[MemberFacts]:
        return await self._member_facts({"account_id": account_id})

    async def _member_facts(
        self, where: Document, sort: str | None = None, limit: int | None = None
    ) -> list[MemberFacts]:
        """Members' facts, read from the stored folded tags alone."""
        docs = await self.members.collection.find(
            where, sort=sort, limit=limit, only=("member_id", "status", "roles", "tags")
        )
        return [
            MemberFacts(
                doc["member_id"],
                doc.get("status") == "active",
                frozenset(doc.get("roles", ())),
                frozenset(doc.get("tags", ())),
            )
            for doc in docs
        ]

    async def _client_facts(
        self, where: Document, sort: str | None = None, limit: int | None = None
    ) -> list[ClientFacts]:
        """Live clients' facts, read from the stored folded tags alone: a member's change
        compares against all of an account's clients, so this read is kept lean."""
        docs = await self.clients.collection.find(
            {**where, **LIVE_CLIENTS}, sort=sort, limit=limit, only=("client_id", "tags")
        )
        return [ClientFacts(doc["client_id"], frozenset(doc.get("tags", ()))) for doc in docs]

    async def all_clients(self, account_id: str) -> list[ClientFacts]:
        return await self._client_facts({"account_id": account_id})

    async def clients_tagged(
        self, account_id: str, tags: frozenset[str] | None
    ) -> list[ClientFacts]:
        """The live clients carrying one of `tags` (folded), through the tags index; None: all."""
        if tags is None:
            return await self.all_clients(account_id)
        if not tags:
            return []
        return await self._client_facts({"account_id": account_id, "tags": {"$in": sorted(tags)}})

    async def audience(
        self, account_id: str, client: ClientFacts, after: str | None, limit: int | None
    ) -> list[MemberFacts]:
        """The members who see `client`, in member id order after `after`: the same rule as
        `visibility.why`, as one indexed query (active, and a see-all role, or no tags, or a
        shared tag)."""
        where: Document = {
            "account_id": account_id,
            "status": "active",
            "$or": [
                {"roles": {"$in": sorted(SEE_ALL_ROLES)}},
                {"tags": []},
                {"tags": {"$in": sorted(client.tags)}},
            ],
        }
        if after:
            where["member_id"] = {"$gt": after}
        return await self._member_facts(where, sort="member_id", limit=limit)

    async def clients_among(self, account_id: str, client_ids: list[str]) -> list[ClientFacts]:
        """By `_id`, which holds the account: DocumentDB answers `client_id $in` through the
        (account_id, client_id) index about ten times slower (1,000 ids: 139 ms against 14).
        Limited to one document a key, so the answer comes in one batch (the facts are small,
        far from a batch's 16 MiB), which DocumentDB gives in about half the time of a cursor's
        first batch (1,000 ids: 5 ms against 10)."""
        keys = sorted({key(account_id, client_id) for client_id in client_ids})
        return await self._client_facts({"_id": {"$in": keys}}, limit=len(keys))

    async def page_of_client_facts(
        self, account_id: str, scope: Scope, after: str | None, limit: int
    ) -> list[ClientFacts]:
        """The clients in `scope` with their tags, in id order after `after`.

        A scope of everything walks the primary key in order (`in_key_order`). A tagged scope
        does too when the member sees enough of the account for a walk to fill the page soon;
        otherwise the tags index gathers the scope's clients and the database sorts them, since
        a walk for a member who sees few would pass over the whole account (10,000 clients: a
        walk 10 ms when none match, against 0.6 ms through the tags index)."""
        if scope.nothing:
            return []
        if scope.everything:
            where, order = in_key_order(account_id, after), "_id"
        elif await self._walk_pays(account_id, scope.tags, limit):
            where, order = {**in_key_order(account_id, after), "tags": _any_of(scope.tags)}, "_id"
        else:
            where, order = self._tagged(account_id, scope.tags, after), "client_id"
        return await self._client_facts(where, sort=order, limit=limit)

    async def _walk_pays(self, account_id: str, tags: frozenset[str], limit: int) -> bool:
        """Whether walking the account's clients in key order fills this page sooner than
        sorting every client of `tags` (`page_plan`)."""
        live = {"account_id": account_id, **LIVE_CLIENTS}
        count = self.clients.collection.count
        matching = await self._counts.get(
            (account_id, tags), lambda: count({**live, "tags": _any_of(tags)})
        )
        if matching == 0:
            return False
        everyone = await self._counts.get(account_id, lambda: count(live))
        return walk_is_cheaper(matching, everyone, limit)

    async def page_of_clients(
        self, account_id: str, scope: Scope, after: str | None, limit: int
    ) -> list[str]:
        """Ids of the clients in `scope`, in order, after `after`."""
        page = await self.page_of_client_facts(account_id, scope, after, limit)
        return [client.client_id for client in page]

    async def page_of_client_records(
        self, account_id: str, after: str | None, limit: int
    ) -> list[Client]:
        """The account's clients with their tags as written, in id order after `after`."""
        where = {**in_key_order(account_id, after), **LIVE_CLIENTS}
        return await self.clients.find(where, sort="_id", limit=limit)

    @staticmethod
    def _tagged(account_id: str, tags: frozenset[str], after: str | None) -> Document:
        where: Document = {"account_id": account_id, "tags": _any_of(tags)}
        if after:
            where["client_id"] = {"$gt": after}
        return where


def _any_of(tags: frozenset[str]) -> Document:
    return {"$in": sorted(tags)}


def in_key_order(account_id: str, after: str | None) -> Document:
    """An account's documents after `after`, for a read sorted by `_id`: the key is
    "<account>|<id>", so within one account `_id` order is id order, and a range on it lets
    DocumentDB walk its primary-key index and stop at the page's end. Sorted by `client_id`
    instead, it sorts every match first, as its secondary indexes cannot return rows in order
    (a page of 100 of 10,000 clients: 13 ms against 0.8). The range ends at the character after
    the separator, past every key of the account."""
    return {
        "account_id": account_id,
        "_id": {"$gt": key(account_id, after or ""), "$lt": f"{account_id}{chr(ord(SEP) + 1)}"},
    }


def _tags(doc: Document) -> tuple[str, ...]:
    """The tags as given (documents written before `security_tags` have only the folded ones)."""
    return tuple(str(tag) for tag in doc.get("security_tags", doc.get("tags")) or ())
