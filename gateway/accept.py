"""The accept page, at the path of the email's link: who invited you to what, sign in with the
invited address, accept, and the result in words."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from contracts import messages as m
from contracts.http import InvitationLookup, InvitationStatus
from gateway.common import active_member, back_to, form_of, gateway_of, render, until
from gateway.security import Person
from pro_team_client import ApiProblem, OutcomeTimeout

LOG = logging.getLogger("gateway")
router = APIRouter()
PATH = "/accounts/{account_id}/invitations/{invitation_id}/accept"

# What the invitee reads for each way an invitation can end (the look-up's status, or the
# refusal's reason when they press Accept).
ENDINGS = {
    "accepted": ("Already accepted", "This invitation has already been accepted."),
    "already_accepted": ("Already accepted", "This invitation has already been accepted."),
    "expired": (
        "Invitation expired",
        "This invitation has expired. Ask the person who invited you for a new invitation.",
    ),
    "revoked": (
        "Invitation withdrawn",
        "This invitation was withdrawn by the account. Ask them if you think that is a mistake.",
    ),
    "invalid": (
        "This link does not work",
        "This invitation link is not valid: it may be mistyped, or a newer email replaced it. "
        "Use the link in the latest invitation email.",
    ),
}


async def _look_up(
    request: Request, account_id: str, invitation_id: str, token: str
) -> InvitationLookup | HTMLResponse:
    try:
        found = await gateway_of(request).api.look_up_invitation(account_id, invitation_id, token)
    except ApiProblem as problem:
        if problem.problem.status == 429:
            wait = int(problem.retry_after or 60)
            return _ending(
                request,
                ("Please wait", f"This link was opened too often: try again in {wait} seconds."),
                429,
            )
        if problem.problem.status >= 500:
            raise
        LOG.warning("invitation look-up refused: %s", problem)
        found = None
    if found is None:
        return _ending(request, ENDINGS["invalid"], 404)
    return found


def _ending(request: Request, ending: tuple[str, str], status: int = 200) -> HTMLResponse:
    title, text = ending
    return render(request, "accept_result.html", status, title=title, text=text, joined=None)


@router.get(PATH, response_class=HTMLResponse)
async def accept_page(
    request: Request, account_id: str, invitation_id: str, token: str = ""
) -> HTMLResponse:
    found = await _look_up(request, account_id, invitation_id, token)
    if isinstance(found, HTMLResponse):
        return found
    if found.status is not InvitationStatus.PENDING:
        return _ending(request, ENDINGS[found.status.value])
    return render(
        request,
        "accept.html",
        invitation=found,
        token=token,
        here=str(request.url.path) + "?" + str(request.url.query),
    )


@router.post(PATH, response_model=None)
async def accept(
    request: Request, account_id: str, invitation_id: str
) -> HTMLResponse | RedirectResponse:
    form = await form_of(request)
    token = str(form.get("token", ""))
    person = Person.from_session(request.session)
    if person is None:  # signed out meanwhile: the page again, which asks to sign in
        return back_to(f"{request.url.path}?token={quote(token, safe='')}")
    found = await _look_up(request, account_id, invitation_id, token)
    if isinstance(found, HTMLResponse):
        return found
    try:
        command = m.AcceptInvitation(
            invitation_id=invitation_id,
            token=token,
            user_id=person.user_id,
            email=person.email,
            name=person.name,
        )
    except ValidationError:
        return _ending(request, ENDINGS["invalid"], 404)
    gateway = gateway_of(request)
    try:
        outcome = await gateway.team.request(  # no actor: the token is the credential
            command, account_id=account_id, timeout=gateway.settings.outcome_timeout_seconds
        )
    except OutcomeTimeout:
        return _ending(
            request,
            (
                "Almost there",
                "Your acceptance was sent but its answer is late: open the invitation link "
                "again in a moment to see the result.",
            ),
            202,
        )
    reason = outcome.reason

    async def joined() -> bool:
        return await active_member(gateway.api, account_id, person.user_id) is not None

    if reason is None or (reason == "already_accepted" and await joined()):
        request.session["account_id"] = account_id
        await until(joined, 10)  # the welcome page's links are for members only
        return render(request, "accept_result.html", title="Welcome", text="", joined=found)
    if reason == "email_mismatch":
        text = (
            f"This invitation was sent to {found.email_masked}, and you are signed in as "
            f"{person.email}. Sign out, then sign in with the invited address."
        )
        return _ending(request, ("Wrong email address", text), 403)
    return _ending(request, ENDINGS.get(reason, ENDINGS["invalid"]), 409)
