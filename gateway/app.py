"""The gateway's web app: pages, the signed session cookie, security headers, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from gateway import accept, clients, signin, team
from gateway.common import CsrfRefused, Gateway, SignInFirst, render
from gateway.security import SecurityHeaders
from gateway.settings import GatewaySettings
from pro_team_client import ApiProblem, KafkaConnection, TeamApi, TeamClient

SESSION_COOKIE = "pro_team_session"


def create_app(settings: GatewaySettings, connection: KafkaConnection) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        team_client = TeamClient(connection)
        api = TeamApi(settings.urls, settings.api_token.get_secret_value())
        await team_client.start()
        app.state.gateway = Gateway(settings, team_client, api)
        try:
            yield
        finally:
            await team_client.stop()
            await api.close()

    app = FastAPI(
        title="Pro account team: reference gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.signing_key(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        same_site="lax",  # sent when the email's link is followed, never on another site's post
        https_only=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for pages in (signin, team, clients, accept):
        app.include_router(pages.router)
    _error_pages(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        ready = getattr(request.app.state, "gateway", None) is not None
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    return app


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, error: Exception) -> HTMLResponse:
        text = (
            "This form did not come from this site's current page, so nothing was done. "
            "Go back, reload the page and try again."
        )
        return render(request, "error.html", 403, title="Refused", text=text)

    @app.exception_handler(SignInFirst)
    async def sign_in_first(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInFirst)
        return RedirectResponse(f"/signin?next={quote(error.back_to)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, HTTPException)
        title = {403: "Not allowed", 404: "Not found"}.get(error.status_code, "Error")
        text = error.detail if error.status_code in (403, 404) else "Something went wrong."
        if error.status_code == 404 and text == "Not Found":
            text = "There is no such page."
        return render(request, "error.html", error.status_code, title=title, text=text)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, ApiProblem)
        status = error.problem.status
        if status == 404:
            return render(request, "error.html", 404, title="Not found", text="No such page.")
        if status < 500:
            text = f"That request was not understood: {error.problem.detail}"
            return render(request, "error.html", 400, title="Bad request", text=text)
        return await unavailable(request, error)

    @app.exception_handler(KafkaError)
    @app.exception_handler(httpx.HTTPError)
    async def unavailable(request: Request, error: Exception) -> HTMLResponse:
        text = "The team service cannot be reached right now. Try again in a minute."
        return render(request, "error.html", 503, title="Unavailable", text=text)
