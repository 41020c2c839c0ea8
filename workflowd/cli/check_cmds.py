"""``workflowd check``."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ..checks import run_checks
from .output import console, print_json


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "check", parents=[common], help="validate the config, plugins, pipelines, model and sources",
        description="Check what the daemon needs, starting nothing: the config, every plugin and pipeline "
        "(plugins are loaded, models are not), that the base model can be found, each source (folder, "
        "Maildir layout, IMAP password), Tesseract and its language data for OCR, and the permissions of "
        "the plugins folder and the data dir. One "
        "line per check. Exit code 2 for a config or plugin problem, 1 for any other problem, 0 when fine.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array of {key, ok, detail, config}")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    findings = run_checks(getattr(args, "config", None))
    if args.json:
        print_json([asdict(f) for f in findings])
    else:
        for f in findings:
            console.print(f"{'ok  ' if f.ok else 'FAIL'} {f.key}: {f.detail}", markup=False)
    problems = [f for f in findings if not f.ok]
    if not args.json:
        console.print(f"{len(problems)} problem(s)" if problems else "everything is in order", markup=False)
    if any(f.config for f in problems):
        return 2
    return 1 if problems else 0
