"""Security tags over the real broker and FerretDB: who sees which clients."""

from __future__ import annotations

import pytest

from services.access_control import store as access_store
from services.access_control.repair import level_set, recompute
from services.access_control.visibility import apply
from tests.services.access_control.conftest import AccessHarness, disconnected_data


async def test_the_seed_story_only_certain_practitioners_see_certain_clients(
    access: AccessHarness,
) -> None:
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    await access.joined(account, "admin-1", ["administrator"])
    await access.joined(account, "ann", ["practitioner"])
    await access.joined(account, "bob", ["practitioner"])
    await access.ok("RegisterClient", account, {"client_id": "kid-1", "security_tags": ["Kids"]})
    await access.ok(
        "RegisterClient", account, {"client_id": "dia-1", "security_tags": ["diabetes"]}
    )
    await access.ok(
        "RegisterClient", account, {"client_id": "both", "security_tags": ["KIDS", "Diabetes"]}
    )
    await access.ok("RegisterClient", account, {"client_id": "plain", "security_tags": []})
    assert await access.visible(account, "ann") == [
        "both",
        "dia-1",
        "kid-1",
        "plain",
    ]  # untagged: all

    events = await access.ok(
        "SetMemberSecurityTags", account, {"member_id": "ann", "security_tags": ["kids"]}
    )
    assert [
        (e["data"]["member_id"], e["data"]["granted"], e["data"]["revoked"]) for e in events
    ] == [("ann", [], ["dia-1", "plain"])]
    await access.ok(
        "SetMemberSecurityTags",
        account,
        {"member_id": "bob", "security_tags": ["Diabetes"]},
        "admin-1",
    )
    assert await access.visible(account, "ann") == ["both", "kid-1"]
    assert await access.visible(account, "bob") == ["both", "dia-1"]
    assert await access.visible(account, "admin-1") == ["both", "dia-1", "kid-1", "plain"]
    assert (await access.get(f"/accounts/{account}/members/ann/clients/dia-1")).json() == {
        "visible": False
    }
    assert (await access.get(f"/accounts/{account}/members/ann/clients/kid-1")).json() == {
        "visible": True
    }

    retag = await access.ok(
        "SetClientSecurityTags",
        account,
        {"client_id": "dia-1", "security_tags": ["kids"]},
        "owner-1",
    )
    assert sorted(
        (e["data"]["member_id"], e["data"]["granted"], e["data"]["revoked"]) for e in retag
    ) == [("ann", ["dia-1"], []), ("bob", [], ["dia-1"])]
    nothing = await access.ok(
        "SetClientSecurityTags", account, {"client_id": "plain", "security_tags": ["sport"]}
    )
    assert [e["data"]["member_id"] for e in nothing] == []  # no one's answer changed... except
    await access.ok("RemoveClient", account, {"client_id": "both"})
    assert await access.visible(account, "ann") == ["dia-1", "kid-1"]

    view = access.downstream_view(account)
    recomputed = await recompute(access.service.store, account)
    for member in ("ann", "bob", "admin-1", "owner-1"):
        api = set(await access.visible(account, member))
        assert view.get(member, set()) == api == recomputed[member]
    repaired: dict[str, set[str]] = {"ann": {"stale-grant"}}  # a downstream gone wrong
    everyone = {c.client_id for c in await access.service.store.all_clients(account)} | {
        "stale-grant"
    }
    for event in level_set(account, recomputed, everyone, "run-1"):
        apply(repaired, event.data)
    assert repaired == recomputed


async def test_disconnect_revokes_everything_and_rejoining_restores_it(
    access: AccessHarness,
) -> None:
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    for n in range(5):
        await access.ok("RegisterClient", account, {"client_id": f"c{n}", "security_tags": []})
    await access.joined(account, "ann", ["practitioner"])
    await access.member_event(
        "MemberDisconnected", account, disconnected_data("ann", ["practitioner"])
    )
    revoked = await access.events.wait_for(
        lambda e: (
            e["type"] == "ClientVisibilityChanged"
            and e["data"]["member_id"] == "ann"
            and e["data"]["revoked"]
        )
    )
    assert revoked[0]["data"]["revoked"] == ["c0", "c1", "c2", "c3", "c4"]
    assert await access.visible(account, "ann") == []
    await access.joined(account, "ann", ["practitioner"])
    assert await access.visible(account, "ann") == ["c0", "c1", "c2", "c3", "c4"]


async def test_pagination_walks_sorted_ids_with_a_cursor(access: AccessHarness) -> None:
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    ids = [f"client-{n:03d}" for n in range(25)]
    for client_id in reversed(ids):
        await access.command(
            "RegisterClient", account, {"client_id": client_id, "security_tags": ["t"]}, "owner-1"
        )
    await access.ok("RegisterClient", account, {"client_id": "zz-last", "security_tags": ["t"]})
    first = (
        await access.get(f"/accounts/{account}/members/owner-1/visible-clients?limit=10")
    ).json()
    assert first["clients"] == ids[:10] and first["next"] == ids[9]
    assert await access.visible(account, "owner-1", limit=10) == [*ids, "zz-last"]
    assert (
        await access.get(f"/accounts/{account}/members/owner-1/visible-clients?limit=0")
    ).status_code == 400
    assert (
        await access.get(f"/accounts/{account}/members/nobody/visible-clients")
    ).status_code == 404


async def test_pages_hold_exactly_the_accounts_live_clients_in_id_order(
    access: AccessHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every listing pages in the same id order whichever way it is read: an owner's (all
    clients: a walk of the primary key), a tagged member's (a walk, or the tags index and a
    sort: both are tried) and the account's clients list; a removed client and another
    account's clients with the same ids never appear."""
    account, other = access.account(), access.account("other")
    ids = ["Zeta", "a.1", "a:2", "a-3", "a_4", "b", "B", "c10", "c9", "0-first", "zz"]
    for acct in (account, other):
        await access.joined(acct, "owner-1", ["owner"])
        for n, client_id in enumerate(reversed(ids)):
            tags = ["kids"] if n % 2 else ["adults"]
            await access.ok("RegisterClient", acct, {"client_id": client_id, "security_tags": tags})
    await access.ok("RegisterClient", other, {"client_id": "only-other", "security_tags": []})
    await access.ok("RemoveClient", account, {"client_id": "c9"})
    await access.joined(account, "ann", ["practitioner"])
    await access.ok(
        "SetMemberSecurityTags", account, {"member_id": "ann", "security_tags": ["kids"]}
    )
    live = sorted(set(ids) - {"c9"})
    kids = sorted(c for n, c in enumerate(reversed(ids)) if n % 2 and c != "c9")
    assert await access.visible(account, "owner-1", limit=3) == live
    for walk in (True, False):
        monkeypatch.setattr(access_store, "walk_is_cheaper", lambda *_, walk=walk: walk)
        assert await access.visible(account, "ann", limit=2) == kids
    listed = await access.paged(f"/accounts/{account}/clients", limit=4)
    assert [row["client_id"] for row in listed] == live


async def test_authorisation_of_client_and_member_tag_commands(access: AccessHarness) -> None:
    account = access.account()
    for member, roles in {
        "owner-1": ["owner"],
        "cadmin": ["client_administrator"],
        "prac": ["practitioner"],
        "billing": ["billing_administrator"],
    }.items():
        await access.joined(account, member, roles)
    await access.ok("RegisterClient", account, {"client_id": "c1", "security_tags": []}, "cadmin")
    await access.ok(
        "SetClientSecurityTags", account, {"client_id": "c1", "security_tags": ["x"]}, "cadmin"
    )
    for actor in ("prac", "billing", "stranger"):
        assert (
            await access.rejection(
                "RegisterClient", account, {"client_id": "c2", "security_tags": []}, actor
            )
            == "forbidden"
        )
    for actor in ("cadmin", "prac"):
        assert (
            await access.rejection(
                "SetMemberSecurityTags",
                account,
                {"member_id": "prac", "security_tags": ["x"]},
                actor,
            )
            == "forbidden"
        )
    assert (
        await access.rejection(
            "SetClientSecurityTags", account, {"client_id": "nope", "security_tags": []}, "owner-1"
        )
        == "not_found"
    )
    assert (
        await access.rejection("RemoveClient", account, {"client_id": "nope"}, "owner-1")
        == "not_found"
    )
    too_many = {"client_id": "c3", "security_tags": [f"t{i}" for i in range(51)]}
    assert await access.rejection("RegisterClient", account, too_many, "owner-1") == "invalid"
    other = access.account("other")
    assert (
        await access.rejection(
            "RegisterClient", other, {"client_id": "c1", "security_tags": []}, "owner-1"
        )
        == "forbidden"
    )


@pytest.mark.parametrize("access", [{"api_token": "t0ken"}], indirect=True)
async def test_the_api_requires_the_bearer_token_when_set(access: AccessHarness) -> None:
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    path = f"/accounts/{account}/members/owner-1/visible-clients"
    assert (await access.get(path)).status_code == 401
    assert (await access.get(path, token="nope")).status_code == 401
    assert (await access.get(path, token="t0ken")).status_code == 200
    assert (await access.get("/healthz")).status_code == 200
