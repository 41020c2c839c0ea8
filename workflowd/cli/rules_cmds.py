"""``workflowd rules sim``: what each rule would do to documents, changing nothing."""

from __future__ import annotations

import argparse
from typing import Any

from rich.text import Text

from ..config import load_config
from ..errors import WorkflowdError
from ..rules.engine import apply_rules
from ..store import Store
from . import args as types
from .output import console, error, print_json

DEFAULT_LAST = 10

_MARKS = {True: ("✓", "green"), False: ("✗", "red")}
_STATUS_STYLE = {"would apply": "bold green", "would fail": "bold red", "not matched": "yellow",
                 "disabled": "dim", "not reached": "dim"}


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("rules", parents=[common], help="simulate the rules on documents",
                       description="`rules sim` shows, for each document, whether each rule matches, each "
                       "condition with the value it saw, and what each action would do. Nothing changes.")
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    sp = rsub.add_parser("sim", parents=[common], help="what the rules would do, changing nothing",
                         description="Run the rules on documents without doing anything: which conditions "
                         "pass or fail (with the value seen), and what each action would do (the target "
                         "path after safety and conflict handling, the tags, the command, the notifiers). "
                         "Files, the database and the outbox are left as they are.")
    sp.add_argument("ids", nargs="*", type=types.document_id, metavar="ID", help="documents (default: the last processed)")
    sp.add_argument("--last", type=types.positive_int, metavar="N",
                    help=f"the last N processed documents (default {DEFAULT_LAST} when no ID is given)")
    sp.add_argument("--json", action="store_true", help="print a JSON array, one object per document")
    sp.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    if not settings.db_path.exists():
        raise WorkflowdError(f"no documents yet (no database at {settings.db_path})")
    if not settings.rules:
        error("no [[rules]] in the config: nothing to simulate")
    store = Store(settings.db_path)
    try:
        ids = list(dict.fromkeys(args.ids))
        if args.last or not ids:
            ids += [i for i in store.documents.last_processed(args.last or DEFAULT_LAST) if i not in ids]
        reports = [apply_rules(store, settings, i, dry_run=True).to_dict() for i in ids]
    finally:
        store.close()
    if args.json:
        print_json(reports)
    else:
        for report in reports:
            _print(report)
    return 0


def _print(report: dict[str, Any]) -> None:
    head = Text(f"document {report['document_id']}: ", style="bold")
    head.append(report["name"])
    where = report["file"] or ("kept in workflowd's store (a mail or attachment)" if report["from_blobs"]
                               else "no file found")
    head.append(f"  ({where})", style="dim")
    console.print(head)
    if not report["rules"]:
        console.print("  no rules", style="dim")
    for rule in report["rules"]:
        line = Text("  ")
        line.append(rule["rule"], style="bold")
        line.append(": ")
        line.append(rule["status"], style=_STATUS_STYLE.get(rule["status"], ""))
        if rule["status"] == "not reached" and rule["error"]:
            line.append(f" ({rule['error']})", style="dim")
        if rule["ran"]:
            line.append(f"  [already run: {rule['ran']['status']} at {rule['ran']['created_at']}]", style="dim")
        console.print(line)
        if rule["status"] != "not reached" and not rule["conditions"]:
            console.print(Text("      ✓ no conditions: every document", style="green"))
        for check in rule["conditions"]:
            mark, style = _MARKS[check["passed"]]
            console.print(Text(f"      {mark} ", style=style) + Text(check["detail"]))
        for action in rule["actions"]:
            style = "red" if action["status"] == "failed" else ""
            console.print(Text(f"      → {action['type']}: ", style="bold") + Text(action["summary"], style=style))
