"""Clients: the ones a member may see (everyone), and every client with its tags (owners and
administrators: register a client, change its tags)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from contracts import messages as m
from gateway import words
from gateway.common import (
    back_to,
    client_manager,
    flash,
    form_of,
    gateway_of,
    render,
    report,
    send,
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
    found = await client_manager(request, account_id)
    try:
        command = m.RegisterClient(
            client_id=str(form.get("client_id", "")).strip(),
            security_tags=tags_from(str(form.get("security_tags", ""))),
        )
    except ValidationError as error:
        flash(request, words.of_invalid_form(error), "error")
        return back_to(_manage(account_id))
    outcome = await send(request, command, found)
    report(request, outcome, f"Client {command.client_id} registered.")
    return back_to(_manage(account_id))


@router.post("/accounts/{account_id}/clients/{client_id}/tags", response_model=None)
async def tag_client(request: Request, account_id: str, client_id: str) -> RedirectResponse:
    form = await form_of(request)
    found = await client_manager(request, account_id)
    try:
        command = m.SetClientSecurityTags(
            client_id=client_id, security_tags=tags_from(str(form.get("security_tags", "")))
        )
    except ValidationError as error:
        flash(request, words.of_invalid_form(error), "error")
        return back_to(_manage(account_id))
    outcome = await send(request, command, found)
    report(request, outcome, f"Security tags of {client_id} saved.")
    return back_to(_manage(account_id))
