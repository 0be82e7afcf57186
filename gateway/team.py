"""The Users page (owners and administrators): every person with status, roles, tags and the
invitation email's delivery; invite, resend, revoke, disconnect, tag."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from contracts import messages as m
from contracts.common import Role
from contracts.http import UserRow, UserStatus
from gateway import words
from gateway.common import (
    back_to,
    command_or_404,
    flash,
    form_of,
    gateway_of,
    render,
    report,
    send,
    tags_from,
    team_manager,
)
from pro_team_client import TeamApi

router = APIRouter()
ROWS_PER_PAGE = 50
INVITABLE_ROLES = tuple(role.value for role in Role if role is not Role.OWNER)
DEFAULT_MESSAGE = (
    "Hi! I'd like you to join our team on the platform, so we can work with our clients "
    "together. Press Accept Invitation to get started."
)
STATUS_WORDS = {
    UserStatus.ACTIVE: "Active",
    UserStatus.PENDING: "Pending",
    UserStatus.EXPIRED: "Expired",
    UserStatus.DISCONNECTED: "Disconnected",
}


def _users(account_id: str) -> str:
    return f"/accounts/{account_id}/users"


async def _tags_of_members(api: TeamApi, account_id: str, rows: list[UserRow]) -> dict[str, str]:
    """Each active member's tags, as the tag box shows them."""
    members = [r.member_id for r in rows if r.status is UserStatus.ACTIVE and r.member_id]
    found = await asyncio.gather(*(api.member_tags(account_id, m) for m in members))
    return {member: ", ".join(tags or []) for member, tags in zip(members, found, strict=True)}


@router.get("/accounts/{account_id}/users", response_class=HTMLResponse)
async def users_page(request: Request, account_id: str, after: str = "") -> HTMLResponse:
    viewer = await team_manager(request, account_id)
    api = gateway_of(request).api
    page = await api.users_page(account_id, limit=ROWS_PER_PAGE, after=after or None)
    return render(
        request,
        "users.html",
        viewer=viewer,
        rows=page.users,
        next=page.next,
        member_tags=await _tags_of_members(api, account_id, page.users),
        status_words=STATUS_WORDS,
        roles=INVITABLE_ROLES,
        default_message=DEFAULT_MESSAGE,
    )


@router.post("/accounts/{account_id}/invitations", response_model=None)
async def invite(request: Request, account_id: str) -> RedirectResponse:
    form = await form_of(request)
    viewer = await team_manager(request, account_id)
    roles = form.get("roles", [])
    tags = tags_from(str(form.get("security_tags", "")))
    try:
        command = m.InviteTeamMember.model_validate(
            {
                "email": form.get("email", ""),
                "roles": roles if isinstance(roles, list) else [roles],
                "message": str(form.get("message", "")).strip() or None,
                "invitee_name": str(form.get("invitee_name", "")).strip() or None,
                "inviter_name": viewer.row.name,
                "security_tags": tags or None,
            }
        )
    except ValidationError as error:
        flash(request, words.of_invalid_form(error), "error")
        return back_to(_users(account_id))
    outcome = await send(request, command, viewer)
    report(request, outcome, f"Invitation sent to {command.email}. They show as Pending below.")
    if outcome is not None and not outcome.rejected:
        await _until_listed(gateway_of(request).api, account_id, command.email)
    return back_to(_users(account_id))


async def _until_listed(api: TeamApi, account_id: str, email: str, seconds: float = 5) -> None:
    """The Users page (membership) lists an invitation a moment after the invitations service
    answered: wait for it a little, so the page shown next has the row."""
    for _ in range(int(seconds / 0.2)):
        page = await api.users_page(account_id, UserStatus.PENDING, limit=1, email=email)
        if page.users:
            return
        await asyncio.sleep(0.2)


@router.post("/accounts/{account_id}/invitations/{invitation_id}/resend", response_model=None)
async def resend(request: Request, account_id: str, invitation_id: str) -> RedirectResponse:
    await form_of(request)
    viewer = await team_manager(request, account_id)
    command = command_or_404(lambda: m.ResendInvitation(invitation_id=invitation_id))
    outcome = await send(request, command, viewer)
    report(request, outcome, "Invitation resent: a new link is on its way.")
    return back_to(_users(account_id))


@router.post("/accounts/{account_id}/invitations/{invitation_id}/revoke", response_model=None)
async def revoke(request: Request, account_id: str, invitation_id: str) -> RedirectResponse:
    await form_of(request)
    viewer = await team_manager(request, account_id)
    command = command_or_404(lambda: m.RevokeInvitation(invitation_id=invitation_id))
    outcome = await send(request, command, viewer)
    report(request, outcome, "Invitation revoked: its link no longer works.")
    return back_to(_users(account_id))


@router.get("/accounts/{account_id}/members/{member_id}/disconnect", response_class=HTMLResponse)
async def confirm_disconnect(request: Request, account_id: str, member_id: str) -> HTMLResponse:
    viewer = await team_manager(request, account_id)
    row = await gateway_of(request).api.member(account_id, member_id)
    if row is None or row.status is not UserStatus.ACTIVE:
        raise HTTPException(404, "There is no such member.")
    return render(request, "disconnect.html", viewer=viewer, row=row)


@router.post("/accounts/{account_id}/members/{member_id}/disconnect", response_model=None)
async def disconnect(request: Request, account_id: str, member_id: str) -> RedirectResponse:
    await form_of(request)
    viewer = await team_manager(request, account_id)
    command = command_or_404(lambda: m.DisconnectMember(member_id=member_id))
    outcome = await send(request, command, viewer)
    report(request, outcome, "Success: the member was disconnected.")
    return back_to(_users(account_id))


@router.post("/accounts/{account_id}/members/{member_id}/tags", response_model=None)
async def tag_member(request: Request, account_id: str, member_id: str) -> RedirectResponse:
    form = await form_of(request)
    viewer = await team_manager(request, account_id)
    try:
        command = m.SetMemberSecurityTags(
            member_id=member_id, security_tags=tags_from(str(form.get("security_tags", "")))
        )
    except ValidationError as error:
        flash(request, words.of_invalid_form(error), "error")
        return back_to(_users(account_id))
    outcome = await send(request, command, viewer)
    report(request, outcome, "Security tags saved.")
    return back_to(_users(account_id))
