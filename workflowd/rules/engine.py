"""Applying the rules, in order, to one document; or simulating it, changing nothing.

Each rule runs once per document (``rule_runs``), so nothing an action does (a file moved
into a watched folder, a tag) runs the rules again for the same document. A failing action
ends its rule, recorded with the reason; the other rules still run. A rule with
``stop = true`` that matched ends the evaluation. Later rules see the document as earlier
ones left it: where its file was moved, the tags it was given.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RuleError
from ..filenames import display
from ..store import Store
from .actions import ActionFailed, ActionReport, AlertMaker, Run, do
from .conditions import Check, evaluate, matched
from .context import Subject
from .files import file_sha256
from .settings import RuleSettings
from .templates import TemplateProblem

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger("workflowd.rules")

FILE_ACTIONS = frozenset({"move", "copy", "rename"})
MAIL_SOURCES = ("maildir:", "imap:")


@dataclass
class RuleReport:
    """One rule on one document. ``status``: applied, failed, not matched, disabled, already
    run, not reached (an earlier rule stopped); in a simulation would apply, would fail."""

    rule: str
    status: str
    matched: bool
    conditions: list[Check] = field(default_factory=list)
    actions: list[ActionReport] = field(default_factory=list)
    error: str | None = None
    ran: dict[str, Any] | None = None  # what rule_runs recorded before, if anything


@dataclass
class DocumentReport:
    """The rules on one document: where its file was when they started, and each rule's report."""

    document_id: int
    name: str
    file: str | None
    from_blobs: bool
    rules: list[RuleReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kept_in_blobs(doc: dict[str, Any]) -> bool:
    """A mail or an attachment: its content is in workflowd's blob store, not a file of its own."""
    return doc.get("parent_id") is not None or str(doc.get("source") or "").startswith(MAIL_SOURCES)


def current_file(store: Store, doc: dict[str, Any], blob_dir: Path, *, verify: bool) -> Path | None:
    """The first place the document's file is now (``verify``: that holds its content)."""
    paths = store.documents.file_paths(doc["id"]) or [Path(doc["path"])]
    for path in paths:
        if path.is_relative_to(blob_dir) or not path.is_file():
            continue
        try:
            if not verify or file_sha256(path) == doc["sha256"]:
                return path
        except OSError:
            continue
    return None


def apply_rules(
    store: Store,
    settings: Settings,
    doc_id: int,
    *,
    rules: list[RuleSettings] | None = None,
    results: dict[str, dict[str, Any]] | None = None,
    alert: AlertMaker | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> DocumentReport:
    """Run (``dry_run``: simulate) the rules on a document; returns what each rule did.
    ``results``: its step results when the caller has them already (else they are read)."""
    rules = settings.rules if rules is None else rules
    doc = store.documents.get(doc_id)
    if doc is None:
        raise RuleError(f"no document with id {doc_id}")
    now = now or datetime.now().astimezone()
    from_blobs = kept_in_blobs(doc)
    needs_file = any(a.type in FILE_ACTIONS for r in rules if r.enabled for a in r.actions)
    file = None if from_blobs else current_file(store, doc, settings.blob_dir, verify=needs_file)
    if results is None:
        results = store.results.for_document(doc_id)
    subject = Subject(doc, results, tuple(store.tags.for_document(doc_id)), file, from_blobs)
    ran = store.rule_runs.for_document(doc_id)
    report = DocumentReport(doc_id, display(subject.name), display(file) if file else None, from_blobs)
    stopped_by: str | None = None
    for rule in rules:
        if stopped_by is not None:
            report.rules.append(RuleReport(rule.name, "not reached", False,
                                           error=f"rule {stopped_by} matched and has stop = true"))
            continue
        checks = evaluate(rule.when, subject)
        ok = matched(checks)
        earlier = ran.get(rule.name)
        if not rule.enabled:
            report.rules.append(RuleReport(rule.name, "disabled", ok, checks, ran=earlier))
            continue
        if earlier is not None and not dry_run:
            report.rules.append(RuleReport(rule.name, "already run", ok, checks, ran=earlier))
            continue
        if not ok:
            report.rules.append(RuleReport(rule.name, "not matched", False, checks, ran=earlier))
            if not dry_run:
                _record(store, doc_id, rule.name, "skipped", {"conditions": [asdict(c) for c in checks]})
            continue
        run = Run(store, settings.data_dir, settings.blob_dir, rule, checks, now, dry_run, alert)
        rule_report, subject = _apply(rule, subject, run)
        rule_report.ran = earlier
        report.rules.append(rule_report)
        if not dry_run:
            _record(store, doc_id, rule.name, "applied" if rule_report.error is None else "failed", {
                "conditions": [asdict(c) for c in checks],
                "actions": [asdict(a) for a in rule_report.actions],
                "error": rule_report.error,
            })
            _log(doc_id, rule_report)
        if rule.stop:
            stopped_by = rule.name
    return report


def _apply(rule: RuleSettings, subject: Subject, run: Run) -> tuple[RuleReport, Subject]:
    """The rule's actions in order; the first that fails ends the rule."""
    report = RuleReport(rule.name, "would apply" if run.dry_run else "applied", True, run.checks)
    for i, action in enumerate(rule.actions):
        try:
            done, subject = do(action, subject, run)
        except (RuleError, TemplateProblem, OSError, subprocess.SubprocessError) as exc:
            reason = _reason(exc)
            detail = exc.detail if isinstance(exc, ActionFailed) else {}
            report.actions.append(ActionReport(action.type, "failed", reason, detail))
        except Exception as exc:
            log.exception("rule %s, action %d (%s) on document %s", rule.name, i + 1, action.type, subject.doc["id"])
            reason = f"unexpected error: {type(exc).__name__}: {_reason(exc)}"
            report.actions.append(ActionReport(action.type, "failed", reason))
        else:
            report.actions.append(done)
            continue
        report.status = "would fail" if run.dry_run else "failed"
        report.error = f"action {i + 1} ({action.type}) failed: {reason}"
        break
    return report, subject


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {display(exc.filename)}" if exc.filename is not None else ""
        return f"{exc.strerror}:{where}" if where else exc.strerror
    return display(str(exc))


def _record(store: Store, doc_id: int, rule: str, status: str, detail: dict[str, Any]) -> None:
    try:
        store.rule_runs.record(doc_id, rule, status, detail)
    except Exception:
        log.exception("cannot record rule %s on document %s as %s", rule, doc_id, status)


def _log(doc_id: int, report: RuleReport) -> None:
    done = "; ".join(a.summary for a in report.actions)
    if report.error is None:
        log.info("rule %s on document %s: %s", report.rule, doc_id, done or "applied")
    else:
        log.warning("rule %s on document %s failed: %s", report.rule, doc_id, report.error)
