"""The pages: server-rendered HTML (Jinja2) that works without JavaScript.

Documents (filters, search, paging), one document (its text with entities and summary
sentences marked in place, each step's result as ``workflowd show`` reads it, the original
file), the dashboard (documents per day, the sentiment trend with its alerts, labels, the
queue and the last errors, as SVG drawn here) and the models (versions, metrics, rollback).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ..errors import WorkflowdError
from ..search import MODES, search, similar
from ..store import Filters
from ..store.documents import STATUSES
from ..views import describer, document_detail, ocr_summary, search_rows
from .charts import bar_chart, days_back, line_chart
from .marking import marked_text

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
PAGE_SIZE = 50
DASHBOARD_DAYS = 30


def _render(request: Request, name: str, here: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = request.app.state.context
    return TEMPLATES.TemplateResponse(request, name, {"csrf": ctx.csrf, "here": here, **values},
                                      status_code=status_code)


def documents_page(request: Request) -> Response:
    from .app import open_store

    ctx = request.app.state.context
    q = request.query_params
    query, mode = q.get("q", "").strip(), q.get("mode") or "hybrid"
    status, source, label = q.get("status") or "", q.get("source") or "", q.get("label") or ""
    like = q.get("similar")
    page = max(1, int(q.get("page") or 1)) if (q.get("page") or "1").isdigit() else 1
    rows: list[dict[str, Any]] = []
    error, more = None, False
    filters = Filters(label=label or None, source=source or None)
    with open_store(request) as store:
        try:
            if like and like.isdigit():
                rows = search_rows(store, similar(store, int(like), ctx.settings.model.base, filters=filters,
                                                  limit=PAGE_SIZE))
                query = query or f"like #{like}"
                mode = "semantic"
            elif query:
                if mode not in MODES:
                    mode = "hybrid"
                rows = search_rows(store, search(store, query, encode=ctx.encode, encoder_name=ctx.settings.model.base,
                                                 mode=mode, filters=filters, limit=PAGE_SIZE))
                if status:
                    rows = [r for r in rows if r["status"] == status]
            else:
                ids = store.fulltext.filtered_ids(filters) if label else None
                rows = store.documents.list(status=status or None, source=source or None,
                                            ids=sorted(ids) if ids is not None else None,
                                            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, newest_first=True)
                more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
        except WorkflowdError as exc:
            error = str(exc)

    def page_url(n: int) -> str:
        return "/?" + urlencode({k: v for k, v in {"status": status, "source": source, "label": label,
                                                    "page": n}.items() if v})

    return _render(request, "documents.html", "documents", rows=rows, q=query, mode=mode, modes=MODES,
                   status=status, statuses=STATUSES, source=source, label=label, page=page, more=more,
                   prev_url=page_url(page - 1), next_url=page_url(page + 1), error=error)


def document_page(request: Request) -> Response:
    from .app import open_store

    doc_id = request.path_params["id"]
    with open_store(request) as store:
        doc = document_detail(store, doc_id)
    if doc is None:
        return _render(request, "base.html", "documents", status_code=404)
    results = doc["results"]
    ents = ((results.get("entities") or {}).get("data") or {}).get("entities") or []
    sents = ((results.get("summarize") or {}).get("data") or {}).get("sentences") or []
    describe = _describer(request)
    described = []
    for step, result in results.items():
        if result["status"] == "failed":
            described.append((step, [f"failed: {result['error']}"]))
        else:
            described.append((step, describe(step, result["data"] or {}, result["confidence"])))
    return _render(request, "document.html", "documents", doc=doc, described=described,
                   text_html=marked_text(doc.get("text") or "", ents, sents), ocr=ocr_summary(doc.get("meta")))


def _describer(request: Request):
    return describer(request.app.state.context.settings)


def dashboard_page(request: Request) -> Response:
    from .app import open_store

    days = days_back(DASHBOARD_DAYS)
    since = (date.fromisoformat(days[0]) - timedelta(days=1)).isoformat()
    with open_store(request) as store:
        per_day = dict(store.stats.documents_per_day(since))
        sentiment = {d: v for d, v, _n in store.stats.sentiment_per_day(since)}
        alerts = dict(store.stats.alerts_per_day(since))
        counts = store.documents.counts()
        values = {
            "labels": store.stats.per_label(),
            "errors": store.stats.last_errors(),
            "queue": store.jobs.depth(),
        }
    return _render(
        request, "dashboard.html", "dashboard",
        per_day=bar_chart(days, per_day, title=f"documents per day, last {DASHBOARD_DAYS} days"),
        sentiment=line_chart(days, sentiment, alerts, title="mean sentiment per day (▼ alerts)"),
        total=sum(counts.values()), failed=counts.get("failed", 0), **values,
    )


def models_page(request: Request) -> Response:
    from ..models.registry import measured

    versions = request.app.state.context.models.registry().list()
    return _render(request, "models.html", "models", versions=versions, measured=measured)


async def rollback(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    task = request.path_params["task"]

    def go() -> None:
        request.app.state.context.models.registry().rollback(task)

    try:
        await run_in_threadpool(go)
    except WorkflowdError as exc:
        return _render(request, "models.html", "models", status_code=400, versions=[], measured=lambda m: "",
                       message=str(exc))
    return RedirectResponse("/models", status_code=303)


# -- review ------------------------------------------------------------------------------------


def _review_tasks(ctx: Any) -> dict[str, Any]:
    from ..runtime import task_registry

    registry = task_registry(ctx.settings)
    return {name: registry.get(name)(ctx.settings, ctx.models) for name in registry.names()}


def review_page(request: Request) -> Response:
    """The review queue, least confident first, as ``workflowd review`` has it: one document,
    the prediction, and buttons with the same keys (a accept, 1-9 a label, s skip)."""
    from ..review import Session, queue
    from .app import open_store

    ctx = request.app.state.context
    q = request.query_params
    task = q.get("task") or None
    skip = int(q.get("skip") or 0) if (q.get("skip") or "0").isdigit() else 0
    tasks = _review_tasks(ctx)
    wanted = {task: tasks[task]} if task in tasks else tasks
    with open_store(request) as store:
        items = queue(store, wanted)
        waiting = len(items)
        session = Session(store, items, tasks, author="web")
        session.position = skip
        item = session.current
        options = session.options(item) if item is not None else []
        results = store.results.for_document(item.document_id) if item is not None else {}
    specs, sentences, chosen = "", [], set()
    if item is not None and item.kind == "spans":
        learned = [e for e in item.data.get("entities") or [] if e.get("type") in {"PER", "ORG", "LOC", "MISC"}]
        specs = "\n".join(f"{e['type']}:{e['start']}-{e['end']}" for e in learned)
    if item is not None and item.kind == "sentences":
        from ..sentences import split_sentences

        sentences = [s.text for s in split_sentences(item.text)][:200]
        chosen = {s.get("index") for s in item.data.get("sentences") or []}
    return _render(request, "review.html", "review", item=item, options=options, task=task or "",
                   specs=specs, sentences=sentences, chosen=chosen,
                   tasks=sorted(tasks), skip=skip, waiting=waiting, message=q.get("done") or "",
                   prediction=_describer(request)(item.task, item.data, item.confidence) if item else [],
                   results=results)


async def review_answer(request: Request) -> Response:
    """Record the answer given on the review page, then show the next document."""
    from starlette.concurrency import run_in_threadpool

    form = await request.form()

    def go() -> str:
        from ..corrections import accept, correct
        from ..tasks import CorrectionInput
        from .app import open_store

        tasks = _review_tasks(request.app.state.context)
        task = tasks.get(str(form.get("task")))
        if task is None:
            raise WorkflowdError(f"unknown task {form.get('task')!r}")
        doc_id = int(str(form.get("document_id")))
        with open_store(request) as store:
            action = form.get("action")
            if action == "accept":
                result = store.results.for_document(doc_id).get(task.name) or {}
                row = accept(store, doc_id, task, result.get("data"), author="web")
            elif action == "entities":  # the whole list, one TYPE:START-END or TYPE=words a line
                specs = [line.strip() for line in str(form.get("entities") or "").splitlines() if line.strip()]
                row = correct(store, doc_id, task, CorrectionInput(entities=specs), author="web", origin="review")
            elif action == "sentences":
                picked = [int(str(v)) for v in form.getlist("sentence")]
                row = correct(store, doc_id, task, CorrectionInput(sentences=picked), author="web", origin="review")
            else:
                row = correct(store, doc_id, task, CorrectionInput(label=str(form.get("label"))), author="web",
                              origin="review")
        value = row["value"]
        shown = value.get("label") or (f"{len(value['entities'])} name(s)" if "entities" in value else None)
        return f"document {doc_id}: {task.name} = {shown or value.get('sentences', value)}"

    try:
        done = await run_in_threadpool(go)
    except (WorkflowdError, ValueError) as exc:
        return HTMLResponse(f"<p>{_escape(str(exc))}</p><p><a href='/review'>back</a></p>", status_code=400)
    back = {"task": str(form.get("only") or ""), "skip": str(form.get("skip") or "0"), "done": done}
    return RedirectResponse("/review?" + urlencode({k: v for k, v in back.items() if v}), status_code=303)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


# -- alerts and rules --------------------------------------------------------------------------


def alerts_page(request: Request) -> Response:
    """Alerts, newest first, with each delivery's state, a retry button, and the rules with how
    many documents each was applied to, failed on or skipped."""
    from ..alerts.listing import list_alerts
    from .app import open_store

    settings = request.app.state.context.settings
    with open_store(request) as store:
        alerts = list_alerts(store, limit=100)
        runs = store.rule_runs.counts()
    rules = [{"name": r.name, "enabled": r.enabled, "when": r.when.model_dump(exclude_defaults=True),
              "actions": [a.type for a in r.actions], "runs": runs.get(r.name, {})} for r in settings.rules]
    return _render(request, "alerts.html", "alerts", alerts=alerts, rules=rules, message=request.query_params.get("done"))


async def alert_retry(request: Request) -> Response:
    """Make an alert's dead and pending deliveries due again, as ``workflowd alerts retry``; the
    daemon's delivery thread (this process) is woken at once."""
    from starlette.concurrency import run_in_threadpool

    from ..alerts.listing import rearm
    from ..alerts.make import OUTBOX_CHANGED
    from .app import open_store

    alert_id = request.path_params["id"]

    def go() -> list[str]:
        with open_store(request) as store:
            return rearm(store, alert_id)

    try:
        notifiers = await run_in_threadpool(go)
    except WorkflowdError as exc:
        return HTMLResponse(f"<p>{_escape(str(exc))}</p><p><a href='/alerts'>back</a></p>", status_code=404)
    OUTBOX_CHANGED.set()
    done = f"alert {alert_id}: " + (f"retrying {', '.join(notifiers)}" if notifiers else "nothing to retry")
    return RedirectResponse("/alerts?" + urlencode({"done": done}), status_code=303)
