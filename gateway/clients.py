"""Clients: the ones a member may see (everyone), and every client with its tags (owners and
administrators: register a client, change its tags)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from contracts import messages as m
from gateway.common import (
    back_to,
    carry_out,
    client_manager,
    form_of,
    gateway_of,
    render,
    tags_from,
    viewer,
)

router = APIRouter()
CLIENTS_PER_PAGE = 100


def _manage(account_id: str) -> str:
    return f"/accounts/{account_id}/clients/manage"


@router.get("/accounts/{account_id}/clients", response_class=HTMLResponse)
async def my_clients(request: Request, account_id: str) -> HTMLResponse:
    found = await viewer(request, account_id)
    clients = await gateway_of(request).api.visible_clients(account_id, found.person.user_id)
    return render(request, "clients.html", viewer=found, clients=clients)


@router.get("/accounts/{account_id}/clients/manage", response_class=HTMLResponse)
async def manage_clients(request: Request, account_id: str, after: str = "") -> HTMLResponse:
    found = await client_manager(request, account_id)
    page = await gateway_of(request).api.clients_page(account_id, CLIENTS_PER_PAGE, after or None)
    return render(request, "manage_clients.html", viewer=found, rows=page.clients, next=page.next)


@router.post("/accounts/{account_id}/clients", response_model=None)
async def register_client(request: Request, account_id: str) -> RedirectResponse:
    form = await form_of(request)
    viewer = await client_manager(request, account_id)
    client_id = str(form.get("client_id", "")).strip()
    tags = tags_from(str(form.get("security_tags", "")))
    await carry_out(
        request,
        viewer,
        lambda: m.RegisterClient(client_id=client_id, security_tags=tags),
        lambda sent: f"Client {sent.client_id} registered.",
    )
    return back_to(_manage(account_id))


@router.post("/accounts/{account_id}/clients/{client_id}/tags", response_model=None)
async def tag_client(request: Request, account_id: str, client_id: str) -> RedirectResponse:
    tags = tags_from(str((await form_of(request)).get("security_tags", "")))
    viewer = await client_manager(request, account_id)
    await carry_out(
        request,
        viewer,
        lambda: m.SetClientSecurityTags(client_id=client_id, security_tags=tags),
        lambda _: f"Security tags of {client_id} saved.",
    )
    return back_to(_manage(account_id))
