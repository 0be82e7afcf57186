"""The demo sign-in: pick a member of an account, or enter an email (an invitee). A real
gateway's identity provider stands here; everything after it works the same."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from contracts.common import normalize_email
from contracts.http import UserStatus
from gateway.common import active_member, back_to, form_of, gateway_of, render, viewer
from gateway.security import Person, csrf_token, safe_next, user_id_for
from pro_team_client import ApiProblem

router = APIRouter()
MEMBERS_SHOWN = 200


def _sign_in(request: Request, person: Person, account_id: str | None = None) -> None:
    """A fresh session (new CSRF token) for the person."""
    request.session.clear()
    request.session["person"] = person.as_session()
    if account_id:
        request.session["account_id"] = account_id
    csrf_token(request.session)


@router.get("/", response_model=None)
async def home(request: Request) -> RedirectResponse:
    account = request.session.get("account_id")
    if account and request.session.get("person"):
        return back_to(f"/accounts/{account}")
    return back_to("/signin")


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, next: str = "", account: str = "") -> HTMLResponse:
    return render(request, "signin.html", next=safe_next(next, ""), account=account)


@router.get("/signin/members", response_class=HTMLResponse)
async def members_to_pick(request: Request, account: str = "", next: str = "") -> HTMLResponse:
    account = account.strip()
    members = []
    problem = None
    try:
        page = await gateway_of(request).api.users_page(
            account, UserStatus.ACTIVE, limit=MEMBERS_SHOWN
        )
        members = page.users
    except ApiProblem as error:
        if error.problem.status != 404:
            raise
        problem = f"There is no account “{account}”."
    return render(
        request,
        "signin.html" if problem else "members.html",
        status=404 if problem else 200,
        account=account,
        members=members,
        problem=problem,
        next=safe_next(next, ""),
    )


@router.post("/signin/member", response_model=None)
async def sign_in_as_member(request: Request) -> RedirectResponse | HTMLResponse:
    form = await form_of(request)
    account, member_id = str(form.get("account", "")), str(form.get("member_id", ""))
    row = await active_member(gateway_of(request).api, account, member_id)
    if row is None:
        return render(
            request, "signin.html", 404, account=account, problem="No such member.", next=""
        )
    _sign_in(request, Person(member_id, row.email, row.name), account)
    return back_to(safe_next(str(form.get("next", "")), f"/accounts/{account}"))


@router.post("/signin/email", response_model=None)
async def sign_in_with_email(request: Request) -> RedirectResponse | HTMLResponse:
    form = await form_of(request)
    next_page = safe_next(str(form.get("next", "")), "/")
    try:
        email = normalize_email(str(form.get("email", "")))
    except ValueError as error:
        return render(request, "signin.html", 400, problem=str(error), next=next_page, account="")
    name = str(form.get("name", "")).strip()[:200] or None
    _sign_in(request, Person(user_id_for(email), email, name))
    return back_to(next_page)


@router.post("/signout", response_model=None)
async def sign_out(request: Request) -> RedirectResponse:
    await form_of(request)
    request.session.clear()
    return back_to("/signin")


@router.get("/accounts/{account_id}", response_model=None)
async def account_home(request: Request, account_id: str) -> RedirectResponse:
    found = await viewer(request, account_id)
    request.session["account_id"] = account_id
    return back_to(f"/accounts/{account_id}/{'users' if found.manages_team else 'clients'}")
