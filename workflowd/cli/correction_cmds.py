"""``workflowd correct`` and ``workflowd corrections list|delete|export|import``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import load_config
from ..errors import WorkflowdError
from ..store import Store
from . import args as types
from .output import console, print_json


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "correct",
        parents=[common],
        help="record the right answer of a step for a document",
        description="Record what a step should have answered for document ID, beside what the model "
        "said, its version and confidence, who and when. Retraining learns from it. classify: --label "
        "(matched without regard to case to the labels known so far); sentiment: --label "
        "negative|neutral|positive; entities: the whole list, each --entity TYPE:START-END or "
        "TYPE=words (every occurrence), --no-entities for none; summarize: --sentences 0,3 (numbers "
        "of the document's sentences) or --summary TEXT; a plugin's task: --value JSON.",
    )
    p.add_argument("id", type=types.document_id, metavar="ID")
    p.add_argument("--task", default="classify", metavar="TASK", help="the task (default classify)")
    p.add_argument("--label")
    p.add_argument("--entity", action="append", metavar="SPEC", dest="entities")
    p.add_argument("--no-entities", action="store_true", help="entities: the document names nothing")
    p.add_argument("--sentences", metavar="N,M", help="summarize: the sentence numbers (from 0)")
    p.add_argument(
        "--summary", metavar="TEXT", help="summarize: the summary, made of the document's sentences"
    )
    p.add_argument("--value", metavar="JSON", help="a plugin task's correction, as a JSON object")
    p.add_argument("--by", metavar="NAME", help="who corrects (default: the user name)")
    p.add_argument("--json", action="store_true", help="print the stored correction as JSON")
    p.set_defaults(func=cmd_correct)

    p = sub.add_parser(
        "corrections",
        parents=[common],
        help="list, delete, export or import corrections",
        description="`corrections list` shows them; `corrections delete ID...` takes corrections back "
        "(kept as history, no longer trained on; the document's earlier correction, if any, is in force "
        "again); `corrections export [-o FILE]` writes them as JSONL (with each document's sha256 and "
        "text, so another machine can learn from them); `corrections import FILE` adds an export's "
        "corrections, skipping those already there.",
    )
    csub = p.add_subparsers(dest="corrections_command", metavar="ACTION")
    lp = csub.add_parser("list", parents=[common], help="the corrections in the store")
    lp.add_argument("--task", metavar="TASK")
    lp.add_argument("--all", action="store_true", help="also those taken back")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(func=cmd_list)
    dp = csub.add_parser("delete", parents=[common], help="take corrections back")
    dp.add_argument("ids", type=types.correction_id, nargs="+", metavar="ID")
    dp.add_argument("--json", action="store_true")
    dp.set_defaults(func=cmd_delete)
    ep = csub.add_parser("export", parents=[common], help="write the corrections as JSONL")
    ep.add_argument("--task", metavar="TASK")
    ep.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: standard output")
    ep.set_defaults(func=cmd_export)
    ip = csub.add_parser("import", parents=[common], help="add the corrections of an export")
    ip.add_argument("file", type=Path, metavar="FILE")
    ip.add_argument("--json", action="store_true")
    ip.set_defaults(func=cmd_import)
    p.set_defaults(func=cmd_list, task=None, json=False, all=False)


def _store(args: argparse.Namespace, *, must_exist: bool = True) -> Store:
    settings = load_config(getattr(args, "config", None))
    if must_exist and not settings.db_path.exists():
        raise WorkflowdError(f"no database yet at {settings.db_path}")
    return Store(settings.db_path)


def cmd_correct(args: argparse.Namespace) -> int:
    from ..corrections import correct
    from ..models.provider import ModelProvider
    from ..runtime import task_registry
    from ..tasks import CorrectionInput

    settings = load_config(getattr(args, "config", None))
    task = task_registry(settings).get(args.task)(settings, ModelProvider(settings))
    sentences = None
    if args.sentences is not None:
        try:
            sentences = [int(x) for x in args.sentences.replace(" ", "").split(",") if x]
        except ValueError:
            raise WorkflowdError(f"--sentences {args.sentences!r}: write sentence numbers such as 0,3") from None
    given = CorrectionInput(
        label=args.label,
        entities=[] if args.no_entities else args.entities,
        sentences=sentences,
        summary=args.summary,
        value=args.value,
    )
    store = _store(args)
    try:
        row = correct(store, args.id, task, given, author=args.by)
    finally:
        store.close()
    if args.json:
        print_json(row)
        return 0
    console.print(
        f"correction {row['id']}: document {args.id}, {task.name} = {json.dumps(row['value'], ensure_ascii=False)}",
        markup=False,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args, must_exist=False)
    try:
        rows = store.corrections.list(task=args.task, include_undone=args.all)
    finally:
        store.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        console.print(
            "no corrections yet: `workflowd correct ID --task T ...` or `workflowd review`", markup=False
        )
    for r in rows:
        undone = f"  [taken back {r['undone_at'][:19]}]" if r["undone_at"] else ""
        console.print(
            f"{r['id']:>5}  {r['created_at'][:19]}  doc {r['document_id'] or '-'}  {r['task']}: "
            f"{json.dumps(r['value'], ensure_ascii=False)[:80]}  (by {r['author']}){undone}",
            markup=False,
        )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from ..corrections import delete

    store = _store(args)
    try:
        rows = [delete(store, cid) for cid in args.ids]
    finally:
        store.close()
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        console.print(
            f"correction {row['id']} taken back: document {row['document_id'] or '-'}, {row['task']} = "
            f"{json.dumps(row['value'], ensure_ascii=False)[:80]}",
            markup=False,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..corrections import export_rows

    store = _store(args, must_exist=False)
    try:
        lines = [json.dumps(r, ensure_ascii=False) for r in export_rows(store, args.task)]
    finally:
        store.close()
    data = "".join(line + "\n" for line in lines)
    if args.output:
        try:
            args.output.write_text(data, encoding="utf-8")
        except OSError as exc:
            raise WorkflowdError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        console.print(f"{len(lines)} correction(s) written to {args.output}", markup=False)
    else:
        sys.stdout.write(data)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..corrections import import_rows
    from ..runtime import task_registry

    settings = load_config(getattr(args, "config", None))
    tasks = task_registry(settings)
    schemas = {name: tasks.get(name).correction for name in tasks.names()}
    store = _store(args, must_exist=False)
    try:
        added, skipped = import_rows(store, args.file, schemas)
    finally:
        store.close()
    if args.json:
        print_json({"added": added, "skipped": skipped})
    else:
        console.print(f"{added} correction(s) added, {skipped} already there", markup=False)
    return 0
