"""``workflowd ingest | list | show | retry``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from ..config import load_config
from ..daemon import control
from ..errors import WorkflowdError
from ..ingest import ingest
from ..logs import setup_logging
from ..store import Store
from ..store.documents import STATUSES
from ..views import describer, document_detail, ocr_summary
from . import args as types
from .output import console, error, print_json


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ingest", parents=[common], help="process files now, without the daemon",
                       description="Record the files (folders are walked) and run them through the pipeline "
                       "in this process. Content seen before is not processed again. Exit code 1 when a "
                       "path cannot be read; documents that fail are listed with status failed.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--pipeline", metavar="NAME", help="pipeline to use (default: the watched folder's, else 'default')")
    p.add_argument("--json", action="store_true", help="print the processed documents as `list --json` does")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("list", parents=[common], help="list documents",
                       description="List documents, oldest first.")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--status", choices=STATUSES, help="only documents in this status")
    p.add_argument("--source", metavar="NAME", help="only documents from this source")
    p.add_argument("--limit", type=types.positive_int, metavar="N", help="at most N documents")
    p.add_argument("--ocr-below", type=float, metavar="PCT",
                   help="only documents read by OCR whose mean word confidence (0-100) is below PCT: weak scans")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", parents=[common], help="show one document with its text and results",
                       description="Show a document: its metadata, where it was found, its text and "
                       "each step's result.")
    p.add_argument("id", type=types.document_id, metavar="ID")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("retry", parents=[common], help="process failed documents again",
                       description="Queue failed documents (the IDs given, else every failed one) to be "
                       "extracted and processed again from their file, e.g. once Tesseract is installed "
                       "or a limit was raised. A running daemon is woken and does it now; without one, "
                       "the next `workflowd start` does.")
    p.add_argument("ids", nargs="*", type=types.document_id, metavar="ID")
    p.add_argument("--json", action="store_true", help="print the queued documents' ids as a JSON array")
    p.set_defaults(func=cmd_retry)


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    setup_logging("WARNING", None, stderr=True)
    report = ingest(settings, args.paths, pipeline=args.pipeline)
    if report.pending_deliveries and control.wake_delivery(settings) is None:
        # A running daemon was just told to retry them (asleep, it would not know); without one, say so.
        n = report.pending_deliveries
        error(f"{n} alert {'delivery waits' if n == 1 else 'deliveries wait'} to be retried: by the daemon "
              "(`workflowd start`), or now with `workflowd alerts retry ID` (`workflowd alerts` lists them)")
    store = Store(settings.db_path)
    try:
        docs = store.documents.list(ids=report.document_ids)
    finally:
        store.close()
    for problem in report.problems:
        error(problem)
    if args.json:
        print_json(docs)
    else:
        _table(docs)
        failed = sum(d["status"] == "failed" for d in docs)
        console.print(f"{len(docs)} document(s), {failed} failed", markup=False)
    return 1 if report.problems else 0


def cmd_retry(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    queued: list[int] = []
    if settings.db_path.exists():
        store = Store(settings.db_path)
        try:
            queued = store.jobs.retry_failed(args.ids or None, max_attempts=settings.jobs.max_attempts)
        finally:
            store.close()
    daemon = control.wake_delivery(settings) if queued else None
    if args.json:
        print_json(queued)
        return 0
    if args.ids and len(queued) < len(args.ids):
        skipped = sorted(set(args.ids) - set(queued))
        error(f"not failed (or already queued), left as they are: {', '.join(map(str, skipped))}")
    if not queued:
        console.print("no failed document to retry", markup=False)
    else:
        when = "the daemon processes them now" if daemon else "the next `workflowd start` processes them"
        console.print(f"{len(queued)} document(s) queued again ({', '.join(map(str, queued))}): {when}",
                      markup=False)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    docs: list[dict[str, Any]] = []
    if settings.db_path.exists():
        store = Store(settings.db_path)
        try:
            docs = store.documents.list(status=args.status, source=args.source, limit=args.limit,
                                        ocr_below=args.ocr_below)
        finally:
            store.close()
    if args.json:
        print_json(docs)
    else:
        _table(docs)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    if not settings.db_path.exists():
        raise WorkflowdError(f"no document {args.id} (no database yet at {settings.db_path})")
    store = Store(settings.db_path)
    try:
        doc = document_detail(store, args.id)
        if doc is None:
            raise WorkflowdError(f"no document with id {args.id}")
    finally:
        store.close()
    if args.json:
        print_json(doc)
        return 0
    for key in ("id", "name", "title", "status", "error", "media_type", "size", "source", "path",
                "parent_id", "sha256", "created_at", "processed_at"):
        if doc.get(key) not in (None, ""):
            console.print(f"[bold]{key}[/bold]: ", end="")
            console.print(str(doc[key]), markup=False)
    ocr = ocr_summary(doc.get("meta"))
    if ocr:
        console.print("[bold]ocr[/bold]: ", end="")
        console.print(ocr, markup=False)
    for loc in doc["locations"][1:]:
        console.print("[bold]also at[/bold]: ", end="")
        console.print(loc["path"], markup=False, highlight=False)
    if doc["children"]:
        console.print(f"[bold]attachments[/bold]: {', '.join(map(str, doc['children']))}")
    if doc["tags"]:
        console.print("[bold]tags[/bold]: ", end="")
        console.print(", ".join(doc["tags"]), markup=False)
    ran = [f"{name} {run['status']}" for name, run in doc["rules"].items() if run["status"] != "skipped"]
    if ran:
        console.print("[bold]rules[/bold]: ", end="")
        console.print("; ".join(ran), markup=False)
    for alert in doc["alerts"]:
        console.print(f"[bold]alert {alert['id']}[/bold] ({alert['level']}): ", end="")
        console.print(f"{alert['message']}; {alert['reason']}", markup=False)
    describe = _describers(args)
    for step, result in doc["results"].items():
        version = f" ({result['model_version']})" if result.get("model_version") else ""
        console.print(f"[bold]{step}[/bold]{version}: ", end="")
        if result["status"] == "failed":
            console.print(f"failed: {result['error']}", markup=False)
            continue
        lines = describe(step, result["data"] or {}, result["confidence"])
        console.print(lines[0] if lines else "", markup=False)
        for line in lines[1:]:
            console.print(f"  {line}", markup=False)
    if doc.get("text"):
        console.rule("text")
        console.print(doc["text"], markup=False)
    return 0


def _table(docs: list[dict[str, Any]]) -> None:
    table = Table(box=None, pad_edge=False)
    for col in ("id", "status", "type", "name", "source", "error"):
        table.add_column(col, overflow="fold" if col in ("name", "error") else "ellipsis")
    for d in docs:
        name = d["name"] or ""
        if d["parent_id"]:
            name = f"↳ {name}"
        # Text, not markup: a file may be called "[red]x"
        table.add_row(*(Text(v) for v in (str(d["id"]), d["status"], d["media_type"] or "", name, d["source"],
                                          d["error"] or "")))
    console.print(table)


def _describers(args: argparse.Namespace):
    return describer(load_config(getattr(args, "config", None)))
