"""The Users page (owners and administrators): every person with status, roles, tags and the
invitation email's delivery; invite, resend, revoke, disconnect, tag."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from contracts import messages as m
from contracts.common import Role
from contracts.http import UserRow, UserStatus
from gateway.common import (
    active_member,
    back_to,
    carry_out,
    command_or_404,
    form_of,
    gateway_of,
    render,
    tags_from,
    team_manager,
    until,
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
    fields = {
        "email": form.get("email", ""),
        "roles": roles if isinstance(roles, list) else [roles],
        "message": str(form.get("message", "")).strip() or None,
        "invitee_name": str(form.get("invitee_name", "")).strip() or None,
        "inviter_name": viewer.row.name,
        "security_tags": tags_from(str(form.get("security_tags", ""))) or None,
    }
    done = await carry_out(
        request,
        viewer,
        lambda: m.InviteTeamMember.model_validate(fields),
        lambda sent: f"Invitation sent to {sent.email}. They show as Pending below.",
    )
    if done is not None and not done[1].rejected:
        api, email = gateway_of(request).api, done[0].email
        # membership lists the invitation a moment after the invitations service answered
        await until(lambda: _listed(api, account_id, email), 5)
    return back_to(_users(account_id))


async def _listed(api: TeamApi, account_id: str, email: str) -> bool:
    page = await api.users_page(account_id, UserStatus.PENDING, limit=1, email=email)
    return bool(page.users)


# The buttons of a pending row: the command each sends, and what the page then says.
PENDING_ROW_ACTIONS: dict[str, tuple[type[m.ResendInvitation | m.RevokeInvitation], str]] = {
    "resend": (m.ResendInvitation, "Invitation resent: a new link is on its way."),
    "revoke": (m.RevokeInvitation, "Invitation revoked: its link no longer works."),
}


@router.post("/accounts/{account_id}/invitations/{invitation_id}/resend", response_model=None)
async def resend(request: Request, account_id: str, invitation_id: str) -> RedirectResponse:
    return await _pending_row_action(request, account_id, invitation_id, "resend")


@router.post("/accounts/{account_id}/invitations/{invitation_id}/revoke", response_model=None)
async def revoke(request: Request, account_id: str, invitation_id: str) -> RedirectResponse:
    return await _pending_row_action(request, account_id, invitation_id, "revoke")


async def _pending_row_action(
    request: Request, account_id: str, invitation_id: str, action: str
) -> RedirectResponse:
    await form_of(request)
    viewer = await team_manager(request, account_id)
    command_class, success = PENDING_ROW_ACTIONS[action]
    await carry_out(
        request,
        viewer,
        lambda: command_or_404(lambda: command_class(invitation_id=invitation_id)),
        lambda _: success,
    )
    return back_to(_users(account_id))


@router.get("/accounts/{account_id}/members/{member_id}/disconnect", response_class=HTMLResponse)
async def confirm_disconnect(request: Request, account_id: str, member_id: str) -> HTMLResponse:
    viewer = await team_manager(request, account_id)
    row = await active_member(gateway_of(request).api, account_id, member_id)
    if row is None:
        raise HTTPException(404, "There is no such member.")
    return render(request, "disconnect.html", viewer=viewer, row=row)


@router.post("/accounts/{account_id}/members/{member_id}/disconnect", response_model=None)
async def disconnect(request: Request, account_id: str, member_id: str) -> RedirectResponse:
    await form_of(request)
    viewer = await team_manager(request, account_id)
    await carry_out(
        request,
        viewer,
        lambda: command_or_404(lambda: m.DisconnectMember(member_id=member_id)),
        lambda _: "Success: the member was disconnected.",
    )
    return back_to(_users(account_id))


@router.post("/accounts/{account_id}/members/{member_id}/tags", response_model=None)
async def tag_member(request: Request, account_id: str, member_id: str) -> RedirectResponse:
    tags = tags_from(str((await form_of(request)).get("security_tags", "")))
    viewer = await team_manager(request, account_id)
    await carry_out(
        request,
        viewer,
        lambda: m.SetMemberSecurityTags(member_id=member_id, security_tags=tags),
        lambda _: "Security tags saved.",
    )
    return back_to(_users(account_id))
