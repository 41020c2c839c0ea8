"""The Starlette application: the guard, the login link and the JSON API.

Every request passes the guard first:

1. the ``Host`` header must name this server (loopback names and the port; the configured
   host too when ``allow_remote``): a page on another site that a DNS rebinding points at
   127.0.0.1 is refused (400);
2. the request must carry the token (``Authorization: Bearer``) or the session cookie the
   login link set; else 401;
3. a request that changes something (POST, PUT, PATCH, DELETE) made with the cookie must come
   from the page's own origin (``Origin``, else ``Referer``) with the CSRF token in the
   ``X-CSRF-Token`` header (a page's form: its ``csrf`` query parameter); else 403. A script with the token sends no cookie: no CSRF.

No path from a request reaches the file system: a document's file is found through its id
(``/api/documents/{id}/original``), from the paths the store recorded for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..config import LOOPBACK_HOSTS, Settings
from ..errors import WorkflowdError
from ..moments import since_moment
from ..search import MODES, search, similar
from ..store import Filters, Store
from ..views import document_detail, search_rows
from .auth import CSRF_HEADER, SESSION_COOKIE, derive, same

log = logging.getLogger("workflowd.web")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_LIMIT = 1000


class WebContext:
    """What the routes need: the settings, the token, the port actually bound (for the Host
    and Origin checks) and, for search by meaning, a way to encode a query."""

    def __init__(self, settings: Settings, token: str, *, encode: Callable[[str], Any] | None = None,
                 status: Callable[[], dict[str, Any]] | None = None):
        self.settings = settings
        self.token = token
        self.status = status
        self.session = derive(token, "session")
        self.csrf = derive(token, "csrf")
        self.encode = encode
        self.port = settings.web.port
        from ..models.provider import ModelProvider

        # one provider for every request: its registry keeps one store connection per thread
        # (a provider per request would leave a connection open per request)
        self.models = ModelProvider(settings)

    def allowed_hosts(self) -> set[str]:
        names = set(LOOPBACK_HOSTS) | ({self.settings.web.host} if self.settings.web.allow_remote else set())
        return {f"[{h}]:{self.port}" if ":" in h else f"{h}:{self.port}" for h in names}

    def store(self) -> Store:
        return Store(self.settings.db_path)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Guard(BaseHTTPMiddleware):
    def __init__(self, app: Any, context: WebContext):
        super().__init__(app)
        self.context = context

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        ctx = self.context
        host = request.headers.get("host", "")
        if host not in ctx.allowed_hosts():
            log.warning("refused a request for Host %r (not this server)", host[:100])
            return _error(400, "this server does not answer for that Host")
        by_token = same(_bearer(request), ctx.token)
        by_cookie = same(request.cookies.get(SESSION_COOKIE), ctx.session)
        if request.url.path == "/login" and request.method == "GET":
            return await call_next(request)
        if not (by_token or by_cookie):
            return _error(401, "log in with the link `workflowd open --print` gives, or send Authorization: Bearer TOKEN")
        origin = request.headers.get("origin")
        if origin is not None and not _same_origin(origin, host, request.url.scheme):
            return _error(403, "cross-origin request refused")
        if request.method in UNSAFE_METHODS and not by_token:
            source = origin or request.headers.get("referer")
            if source is None or not _same_origin(source, host, request.url.scheme):
                return _error(403, "a change needs to come from this page (Origin or Referer missing or foreign)")
            # the header (scripts), or the query of a form's action (pages without JavaScript)
            if not same(request.headers.get(CSRF_HEADER) or request.query_params.get("csrf"), ctx.csrf):
                return _error(403, "missing or wrong CSRF token")
        return await call_next(request)


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else None


def _same_origin(url: str, host: str, scheme: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == scheme and parts.netloc == host


# -- routes ------------------------------------------------------------------------------------


def login(request: Request) -> Response:
    ctx: WebContext = request.app.state.context
    if not same(request.query_params.get("token"), ctx.token):
        return _error(401, "this login link is not (or no longer) valid: run `workflowd open` again")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, ctx.session, httponly=True, samesite="strict", path="/")
    return response


def session(request: Request) -> Response:
    """The CSRF token the page's scripts send with a change."""
    return JSONResponse({"csrf_token": request.app.state.context.csrf})


def _int(request: Request, name: str, default: int | None, top: int = MAX_LIMIT) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WorkflowdError(f"{name} must be a whole number") from None
    if not 1 <= value <= top:
        raise WorkflowdError(f"{name} must be from 1 to {top}")
    return value


def _filters(request: Request) -> Filters:
    q = request.query_params
    since = q.get("since")
    if since:
        try:
            since = since_moment(since)
        except ValueError as exc:
            raise WorkflowdError(str(exc)) from None
    return Filters(label=q.get("label") or None, source=q.get("source") or None, since=since or None)


def documents(request: Request) -> Response:
    q = request.query_params
    with open_store(request) as store:
        return JSONResponse(store.documents.list(status=q.get("status") or None, source=q.get("source") or None,
                                                 limit=_int(request, "limit", None)))


def document(request: Request) -> Response:
    doc_id = request.path_params["id"]
    with open_store(request) as store:
        doc = document_detail(store, doc_id)
    return JSONResponse(doc) if doc is not None else _error(404, f"no document with id {doc_id}")


def original(request: Request) -> Response:
    """The document's file, from the first recorded path that still exists."""
    doc_id = request.path_params["id"]
    with open_store(request) as store:
        doc = store.documents.get(doc_id)
        paths = store.documents.file_paths(doc_id) if doc is not None else []
    if doc is None:
        return _error(404, f"no document with id {doc_id}")
    for path in paths:
        if Path(path).is_file():
            return FileResponse(path, media_type=doc.get("media_type") or "application/octet-stream",
                                filename=doc.get("name") or f"document-{doc_id}")
    return _error(404, f"the file of document {doc_id} is no longer where it was found")


def search_route(request: Request) -> Response:
    ctx: WebContext = request.app.state.context
    query = request.query_params.get("q", "")
    mode = request.query_params.get("mode") or "hybrid"
    if mode not in MODES:
        return _error(400, f"mode must be one of {', '.join(MODES)}")
    with open_store(request) as store:
        hits = search(store, query, encode=ctx.encode, encoder_name=ctx.settings.model.base, mode=mode,
                      filters=_filters(request), limit=_int(request, "limit", 10) or 10)
        return JSONResponse(search_rows(store, hits))


def similar_route(request: Request) -> Response:
    ctx: WebContext = request.app.state.context
    doc_id = request.path_params["id"]
    with open_store(request) as store:
        if store.documents.get(doc_id) is None:
            return _error(404, f"no document with id {doc_id}")
        hits = similar(store, doc_id, ctx.settings.model.base, filters=_filters(request),
                       limit=_int(request, "limit", 10) or 10)
        return JSONResponse(search_rows(store, hits))


def alerts_route(request: Request) -> Response:
    """``alerts --json``."""
    from ..alerts.listing import list_alerts

    since = request.query_params.get("since")
    if since:
        try:
            since = since_moment(since)
        except ValueError as exc:
            raise WorkflowdError(str(exc)) from None
    with open_store(request) as store:
        return JSONResponse(list_alerts(store, since=since or None, limit=_int(request, "limit", None)))


def models_route(request: Request) -> Response:
    """``models list --json``."""
    registry = request.app.state.context.models.registry()
    return JSONResponse([v.public() for v in registry.list(request.query_params.get("task") or None)])


def status_route(request: Request) -> Response:
    """``status --json`` (given by the daemon that serves the page)."""
    status = request.app.state.context.status
    return JSONResponse(status()) if status is not None else _error(404, "no daemon status here")


async def correct_route(request: Request) -> Response:
    """Record a correction, as ``workflowd correct`` does: ``{"task", "label" | "entities" |
    "sentences" | "summary" | "value"}``."""
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the body must be a JSON object")
    if not isinstance(body, dict) or not isinstance(body.get("task"), str):
        return _error(400, 'the body must be a JSON object with "task"')
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_correct, request, body)


def _correct(request: Request, body: dict[str, Any]) -> Response:
    from ..corrections import correct
    from ..runtime import task_registry
    from ..tasks import CorrectionInput

    ctx: WebContext = request.app.state.context
    doc_id = request.path_params["id"]
    task = task_registry(ctx.settings).get(body["task"])(ctx.settings, ctx.models)
    given = CorrectionInput(label=body.get("label"), entities=body.get("entities"), sentences=body.get("sentences"),
                            summary=body.get("summary"), value=body.get("value"))
    with open_store(request) as store:
        if store.documents.get(doc_id) is None:
            return _error(404, f"no document with id {doc_id}")
        row = correct(store, doc_id, task, given, author="web")
    return JSONResponse(row, status_code=201)


class open_store:
    def __init__(self, request: Request):
        self.context: WebContext = request.app.state.context

    def __enter__(self) -> Store:
        self.store = self.context.store()
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


async def _workflowd_error(request: Request, exc: Exception) -> Response:
    return _error(400, str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(404, "not found")


def create_app(context: WebContext) -> Starlette:
    from . import pages

    routes = [
        Route("/", pages.documents_page),
        Route("/documents/{id:int}", pages.document_page),
        Route("/dashboard", pages.dashboard_page),
        Route("/models", pages.models_page),
        Route("/models/{task}/rollback", pages.rollback, methods=["POST"]),
        Route("/alerts", pages.alerts_page),
        Route("/alerts/{id:int}/retry", pages.alert_retry, methods=["POST"]),
        Route("/review", pages.review_page),
        Route("/review/answer", pages.review_answer, methods=["POST"]),
        Route("/login", login),
        Route("/api/session", session),
        Route("/api/documents", documents),
        Route("/api/documents/{id:int}", document),
        Route("/api/documents/{id:int}/original", original),
        Route("/api/documents/{id:int}/similar", similar_route),
        Route("/api/documents/{id:int}/corrections", correct_route, methods=["POST"]),
        Route("/api/search", search_route),
        Route("/api/alerts", alerts_route),
        Route("/api/models", models_route),
        Route("/api/status", status_route),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, context=context)],
        exception_handlers={WorkflowdError: _workflowd_error, 404: _not_found},
    )
    app.state.context = context
    return app
