"""The application factory: one FastAPI app serving the REST API, the pages and their assets.

All state lives in the store (plans, users, audit, ...) except the login rate limiter, which is in
memory of this process (see ratelimit.py). The control loop runs the app in-process next to its
scheduler: create_app(site, store) and hand it to uvicorn.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import plotly
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy.site import Site
from energy.store.engine import Store
from energy.web import (
    api,
    api_docs,
    api_grid_limits,
    api_users,
    pages,
    pages_admin,
    pages_preferences,
)
from energy.web.alarm_messages import detail_text, incident_message
from energy.web.auth import (
    ForbiddenError,
    NotAuthenticatedError,
    Permission,
    Principal,
    csrf_token_of,
    require,
)
from energy.web.i18n import LanguageMiddleware, gettext, install_template_language
from energy.web.labels import alarm_cause
from energy.web.localtime import format_local, local_detail
from energy.web.metrics import CONTENT_TYPE, metrics_registry, render_metrics
from energy.web.openapi_doc import install_documented_openapi
from energy.web.overview_view import age_text
from energy.web.ratelimit import LoginRateLimiter
from energy.web.settings import WebSettings, data_dir_for, resolve_secret_key
from energy.web.text import encodable

__all__ = ["create_app"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
SESSION_COOKIE = "kv_session"

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'self'"
    ),
}


class SecurityHeaders:
    """Adds the headers above to every response (plain ASGI: no buffering of bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


API_PAGES = frozenset({"/api/docs"})
"""Pages under /api/ for people: they answer errors as pages and redirect to the login."""


def _is_api(request: Request) -> bool:
    """Machine endpoints answer errors as JSON (401, not a redirect to the login form); the
    pages under /api/ for people (API_PAGES) answer as pages."""
    path = request.url.path
    return (path.startswith("/api/") and path not in API_PAGES) or path == "/metrics"


def _wants_html(request: Request) -> bool:
    return not _is_api(request)


def _error_page(request: Request, status: int, message: str) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "site": request.app.state.site,
            "principal": None,
            "csrf_token": csrf_token_of(request),
            "status": status,
            "message": message,
        },
        status_code=status,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticatedError)
    async def not_authenticated(request: Request, _exc: NotAuthenticatedError) -> Response:
        if _wants_html(request):
            # after a form post with an expired session, come back to the page, not the post
            target = request.url.path if request.method == "GET" else "/status"
            if request.method == "GET" and request.url.query:
                target += f"?{request.url.query}"
            return RedirectResponse(f"/login?next={quote(target, safe='/?=&')}", status_code=303)
        return JSONResponse(
            {
                "detail": gettext(
                    "authentication required: log in or send Authorization: Bearer <token>"
                )
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        if _wants_html(request):
            return _error_page(request, 403, exc.message)
        return JSONResponse({"detail": exc.message}, status_code=403)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_html(request) and exc.status_code >= 400:
            return _error_page(request, exc.status_code, str(exc.detail))
        if exc.status_code == 422 and isinstance(exc.detail, str):
            # one shape for every 422: FastAPI's validation list (the OpenAPI document says so)
            detail = [{"loc": ["request"], "msg": exc.detail, "type": "value_error"}]
            return JSONResponse({"detail": encodable(detail)}, 422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(SQLAlchemyError)
    async def store_unavailable(request: Request, exc: SQLAlchemyError) -> Response:
        log.error("%s %s: store error %s", request.method, request.url.path, type(exc).__name__)
        settings: WebSettings = request.app.state.settings
        note = settings.store_outage() or gettext("the store did not answer")
        message = gettext("The store is unavailable: %(note)s. Try again shortly.", note=note)
        if _wants_html(request):
            return _error_page(request, 503, message)
        return JSONResponse({"detail": message}, status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_html(request):
            return _error_page(request, 422, gettext("The request was malformed."))
        # the echo of the input must itself be encodable: a lone surrogate is shown escaped
        return JSONResponse({"detail": encodable(jsonable_encoder(exc.errors()))}, 422)


def create_app(site: Site, store: Store, settings: WebSettings | None = None) -> FastAPI:
    """The operator interface and REST API of one site, on a migrated store."""
    settings = settings or WebSettings()
    secret = settings.secret_key or resolve_secret_key(data_dir_for(site))
    app = FastAPI(
        title=f"Klimaviertel API: {site.config.name}",
        version="1",
        description=(
            "Control platform of a climate district. Authenticate with an API token "
            "(`Authorization: Bearer ...`, see `kv user token`). Times are UTC (ISO 8601). "
            "Only /health answers without authentication."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.site = site
    app.state.store = store
    app.state.settings = settings
    app.state.limiter = LoginRateLimiter(
        settings.login_max_failures, settings.login_window_s, settings.wall_clock
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["local"] = lambda value, seconds=False: format_local(
        value, site.tz, seconds
    )
    templates.env.filters["local_detail"] = lambda detail: local_detail(
        detail, site.tz, lambda text: detail_text(text, site.tz).text, gettext
    )
    templates.env.globals["detail_text"] = lambda text: detail_text(text, site.tz)
    templates.env.globals["tz_name"] = site.config.location.timezone
    templates.env.globals["alarm_cause"] = alarm_cause
    templates.env.globals["incident_message"] = lambda incident: incident_message(incident, site.tz)
    templates.env.globals["age_text"] = age_text
    install_template_language(templates.env)
    app.state.templates = templates

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        same_site="strict",
        https_only=settings.https_only_cookies,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    _install_error_handlers(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Unauthenticated liveness probe: says only that the process answers."""
        return {"status": "ok"}

    registry = metrics_registry(site, store, settings)

    @app.get("/metrics", include_in_schema=False)
    def metrics(_: Principal = Depends(require(Permission.READ))) -> Response:  # noqa: B008
        """Prometheus exposition (docs/operations.md, Metrics); a reader's API token scrapes it."""
        return Response(render_metrics(registry), media_type=CONTENT_TYPE)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_document(_: Principal = Depends(require(Permission.READ))) -> JSONResponse:  # noqa: B008
        """The OpenAPI document, for logged-in users and token holders only."""
        return JSONResponse(app.openapi())

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(api_users.router)
    app.include_router(api_grid_limits.router)
    app.include_router(pages.router)
    app.include_router(pages_admin.router)
    app.include_router(pages_preferences.router)
    app.include_router(api_docs.router)
    install_documented_openapi(app)
    return app
