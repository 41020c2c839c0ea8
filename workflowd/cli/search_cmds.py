"""``workflowd search QUERY | similar ID``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from ..config import load_config
from ..errors import WorkflowdError
from ..search import MODES, Hit, search, similar
from ..store import Filters, Store
from ..views import search_rows
from . import args as types
from .alert_cmds import since_time
from .output import console, print_json


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON array of documents as `list --json` does, "
                   "best first, each with score and snippet")
    p.add_argument("--limit", type=types.positive_int, default=10, metavar="N", help="at most N documents (10)")
    p.add_argument("--label", metavar="L", help="only documents classified L (a correction in force counts)")
    p.add_argument("--source", metavar="S", help="only documents from the source named S")
    p.add_argument("--since", type=since_time, metavar="DATE|DURATION",
                   help="only documents recorded since DATE (ISO 8601) or in the last DURATION (e.g. 7d)")


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("search", parents=[common], help="find documents by their words and their meaning",
                       description="Search the documents. hybrid (the default) fuses full-text search "
                       "(SQLite FTS5, BM25 over title, file name and text) with search by meaning (the "
                       "stored embeddings, the query encoded by the same encoder); text and semantic use "
                       "one half alone. Any word of the query may match; documents with more of them, "
                       "and rarer ones, come first.")
    p.add_argument("query", nargs="+", metavar="QUERY", help="words to look for (no operators)")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="hybrid (default), text or semantic")
    _filters(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("similar", parents=[common], help="documents like one document (by meaning)",
                       description="More like this: the documents whose embeddings are closest to "
                       "that of document ID, most similar first (score: cosine similarity).")
    p.add_argument("id", type=types.document_id, metavar="ID")
    _filters(p)
    p.set_defaults(func=cmd_similar)


def cmd_search(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    query = " ".join(args.query)
    filters = Filters(label=args.label, source=args.source, since=args.since)
    hits: list[Hit] = []
    if settings.db_path.exists():
        encode = None
        if args.mode != "text":
            from ..models.provider import ModelProvider

            provider = ModelProvider(settings)
            encode = lambda q: provider.encoder.encode_texts([q])[0]
        store = Store(settings.db_path)
        try:
            hits = search(store, query, encode=encode, encoder_name=settings.model.base, mode=args.mode,
                          filters=filters, limit=args.limit)
            return _print(store, hits, args.json)
        finally:
            store.close()
    return _print(None, hits, args.json)


def cmd_similar(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    if not settings.db_path.exists():
        raise WorkflowdError(f"no document {args.id} (no database yet at {settings.db_path})")
    store = Store(settings.db_path)
    try:
        if store.documents.get(args.id) is None:
            raise WorkflowdError(f"no document with id {args.id}")
        filters = Filters(label=args.label, source=args.source, since=args.since)
        hits = similar(store, args.id, settings.model.base, filters=filters, limit=args.limit)
        return _print(store, hits, args.json)
    finally:
        store.close()


def _print(store: Store | None, hits: list[Hit], as_json: bool) -> int:
    rows: list[dict[str, Any]] = search_rows(store, hits) if store else []
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        console.print("no documents found")
        return 0
    table = Table(box=None, pad_edge=False)
    for col in ("id", "score", "name", "snippet"):
        table.add_column(col, overflow="fold" if col == "snippet" else "ellipsis")
    for r in rows:
        table.add_row(Text(str(r["id"])), Text(f"{r['score']:.4f}"), Text(r["title"] or r["name"] or ""),
                      Text(" ".join(r["snippet"].split())))
    console.print(table)
    return 0
