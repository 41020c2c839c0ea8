"""A rule's actions: each one does its work (or, in a simulation, says what it would do).

An action returns what it did and the document as later actions and rules see it (a move
changes where its file is, a tag adds a tag); it raises RuleError (or TemplateProblem,
OSError) when it cannot be done, which ends its rule for that document.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..blobs import blob_path
from ..errors import RuleError
from ..filenames import clean_text, display
from ..store import Store
from .conditions import Check
from .context import Subject
from .files import Placed, copy_file, file_sha256, move_file, resolve
from .paths import render_name, render_target
from .settings import CopyAction, MoveAction, NotifyAction, RenameAction, RuleSettings, RunAction, TagAction
from .templates import render

TAIL_CHARS = 2000
AlertMaker = Callable[..., int]  # workflowd.alerts.make.make_alert with its store and settings given


@dataclass
class ActionReport:
    """What one action did or would do: ``status`` done, skipped, would, failed."""

    type: str
    status: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


class ActionFailed(RuleError):
    """An action that failed with more to record than its message (a program's exit code...)."""

    def __init__(self, message: str, detail: dict[str, Any]):
        super().__init__(message)
        self.detail = detail


@dataclass
class Run:
    """What actions need besides their settings: the store, where trash and blobs are, the rule."""

    store: Store
    data_dir: Path
    blob_dir: Path
    rule: RuleSettings
    checks: list[Check]
    now: datetime
    dry_run: bool = False
    alert: AlertMaker | None = None

    @property
    def trash_dir(self) -> Path:
        return self.data_dir / "trash"


Result = tuple[ActionReport, Subject]


def do(action: Any, subject: Subject, run: Run) -> Result:
    """Do (or simulate) one action on the document."""
    handler = _HANDLERS[action.type]
    return handler(action, subject, run)


# -- move, copy, rename ----------------------------------------------------------------------


def _file(action: MoveAction | CopyAction | RenameAction, subject: Subject, run: Run) -> Result:
    doc = subject.doc
    variables = subject.variables(run.rule.name, run.now)
    if subject.from_blobs:
        if action.type == "rename":
            raise RuleError(f"document {doc['id']} is a mail or an attachment, kept in workflowd's own store: "
                            "it has no file of its own to rename (copy makes one)")
        src = blob_path(run.blob_dir, doc["sha256"])
        if not src.is_file():
            raise RuleError(f"the stored content of document {doc['id']} ({src}) is missing")
        keep = True  # never move a file out of the blob store: a move of a mail is a copy
    else:
        if subject.file is None:
            raise RuleError(f"document {doc['id']} has no file left at any place it was found (gone, or "
                            "its content changed)")
        src, keep = subject.file, action.type == "copy"
        if not keep and src.is_symlink():
            raise RuleError(f"{display(src)} is a symbolic link: a {action.type} would move the link, not the "
                            "file it leads to (copy copies the file)")
    if action.type == "rename":
        target = render_name(action.to, variables, src.parent)
    else:
        target = render_target(action.to, variables)
    verb = "copy" if keep else action.type
    if run.dry_run:
        res = resolve(src, target, sha256=doc["sha256"], on_conflict=action.on_conflict, trash_dir=run.trash_dir)
        report = ActionReport(action.type, "skipped" if res.kind in ("skip", "same") else "would",
                              _planned(verb, src, target, res.kind, res.path, res.aside, keep), _paths(src, res.path))
        moved = not keep and res.path is not None
        return report, subject.moved_to(res.path) if moved and res.path is not None else subject
    if not keep and not subject.from_blobs and file_sha256(src) != doc["sha256"]:
        raise RuleError(f"{display(src)} no longer holds document {doc['id']}'s content; not moved")
    do_it = copy_file if keep else move_file
    placed = do_it(src, target, sha256=doc["sha256"], on_conflict=action.on_conflict, trash_dir=run.trash_dir)
    _follow(run, subject, src, placed, keep)
    report = ActionReport(action.type, "skipped" if placed.kind in ("skip", "same") else "done",
                          _done(verb, src, target, placed, keep), _paths(src, placed.path))
    if placed.displaced:
        report.detail["moved_aside"] = [[display(a), display(b)] for a, b in placed.displaced]
    return report, subject.moved_to(placed.path) if not keep and placed.path is not None else subject


def _follow(run: Run, subject: Subject, src: Path, placed: Placed, keep: bool) -> None:
    """The store follows the files: a moved file's location moves, a copy is one more location."""
    docs = run.store.documents
    for old, new in placed.displaced:
        st = os.stat(new, follow_symlinks=False)
        docs.move_location(old, new, st.st_size, st.st_mtime_ns)
    if placed.path is None or placed.kind == "same":
        return
    st = os.stat(placed.path)
    doc = subject.doc
    if keep:
        docs.add_location(doc["id"], f"rule:{run.rule.name}", placed.path, st.st_size, st.st_mtime_ns)
    else:
        docs.move_location(src, placed.path, st.st_size, st.st_mtime_ns, doc_id=doc["id"], source=doc["source"])


def _paths(src: Path, dest: Path | None) -> dict[str, Any]:
    return {"from": display(src), "to": display(dest) if dest is not None else None}


def _planned(verb: str, src: Path, target: Path, kind: str, path: Path | None, aside: Path | None, keep: bool) -> str:
    t, p = display(target), display(path) if path is not None else ""
    if kind == "free":
        return f"would {verb} {display(src)} to {t}"
    if kind == "numbered":
        return f"would {verb} {display(src)} to {p} ({t} exists)"
    if kind == "same":
        return f"nothing to do: the file is already {t}"
    if kind == "identical":
        return f"{p} already holds this content: " + ("nothing to copy" if keep else f"would remove {display(src)}")
    if kind == "skip":
        return f"would skip: {t} exists (on_conflict = skip)"
    if kind == "overwrite":
        return f"would {verb} {display(src)} to {t}, replacing the file there (on_conflict = overwrite)"
    return f"would move the file at {t} to {display(aside or target)}, then {verb} {display(src)} to {t}"


def _done(verb: str, src: Path, target: Path, placed: Placed, keep: bool) -> str:
    t = display(target)
    p = display(placed.path) if placed.path is not None else ""
    if placed.kind == "skip":
        return f"skipped: {t} exists (on_conflict = skip)"
    if placed.kind == "same":
        return f"nothing to do: the file is already {t}"
    if placed.kind == "identical":
        return f"{p} already holds this content: " + ("nothing copied" if keep else f"removed {display(src)}")
    past = {"copy": "copied", "move": "moved", "rename": "renamed"}[verb]
    text = f"{past} {display(src)} to {p}"
    if placed.path != target:
        text += f" ({t} exists)"
    for old, new in placed.displaced:
        text += f"; the file that was there is now {display(new)}"
    if placed.kind == "overwrite":
        text += ", replacing the file there"
    return text


# -- tag, run, notify ------------------------------------------------------------------------


def _tag(action: TagAction, subject: Subject, run: Run) -> Result:
    variables = subject.variables(run.rule.name, run.now)
    tags = [t for t in (render(t, variables).strip() for t in action.tags) if t]
    if not tags:
        raise RuleError(f"the tags {action.tags} all came out empty")
    if run.dry_run:
        new = [t for t in tags if t not in subject.all_tags]
        return ActionReport("tag", "would", f"would add the tags {', '.join(tags)}", {"tags": tags, "new": new}), \
            subject.tagged(tags)
    added = run.store.tags.add(subject.doc["id"], tags, origin=f"rule:{run.rule.name}")
    summary = f"tagged {', '.join(tags)}" + ("" if added else " (it had them already)")
    return ActionReport("tag", "done", summary, {"tags": tags, "new": added}), subject.tagged(tags)


def _run(action: RunAction, subject: Subject, run: Run) -> Result:
    variables = subject.variables(run.rule.name, run.now)
    argv = [render(a, variables) for a in action.argv]
    shown = [display(a) for a in argv]
    detail: dict[str, Any] = {"argv": shown, "timeout": action.timeout}
    if run.dry_run:
        return ActionReport("run", "would", f"would run {shown} (killed after {action.timeout:g} s)", detail), subject
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, close_fds=True)
    except OSError as exc:
        raise ActionFailed(f"cannot run {shown[0]}: {exc.strerror or exc}", detail) from None
    try:
        out, err = proc.communicate(timeout=action.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = _drain(proc)
        timed_out = True
    detail.update(exit_code=proc.returncode, stdout_tail=_tail(out), stderr_tail=_tail(err))
    if timed_out:
        raise ActionFailed(f"{shown[0]} was killed after {action.timeout:g} s (timeout)", detail)
    if proc.returncode != 0:
        tail = detail["stderr_tail"].strip().splitlines()
        raise ActionFailed(f"{shown[0]} exited with {proc.returncode}" + (f": {tail[-1]}" if tail else ""), detail)
    return ActionReport("run", "done", f"ran {shown[0]}: exit code 0", detail), subject


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the program and whatever it started (its own session): nothing outlives the time limit."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.kill()


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    try:
        return proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a grandchild in a session of its own holds the pipes
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return b"", b""


def _tail(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", "replace")
    return clean_text(text[-TAIL_CHARS:])


def _notify(action: NotifyAction, subject: Subject, run: Run) -> Result:
    variables = subject.variables(run.rule.name, run.now)
    message = render(action.message, variables)
    reason = reason_of(run.rule, run.checks)
    detail: dict[str, Any] = {"notifiers": action.to, "level": action.level, "message": message, "reason": reason}
    to = ", ".join(action.to) or "the log only"
    if run.dry_run:
        return ActionReport("notify", "would", f"would alert ({action.level}) to {to}: {message}", detail), subject
    if run.alert is None:
        raise RuleError("notify: no way to make alerts was given")
    doc_id = subject.doc["id"]
    alert_id = run.alert(kind="rule", name=run.rule.name, level=action.level, message=message, reason=reason,
                         documents=[doc_id], notify=list(action.to), document_id=doc_id)
    detail["alert_id"] = alert_id
    return ActionReport("notify", "done", f"alert {alert_id} ({action.level}) to {to}: {message}", detail), subject


def reason_of(rule: RuleSettings, checks: list[Check]) -> str:
    """Why a rule's alert was made: the conditions that held, with the values seen."""
    if not checks:
        return f"rule {rule.name}: no conditions (every document)"
    return f"rule {rule.name} matched: " + "; ".join(c.detail for c in checks)


_HANDLERS: dict[str, Callable[[Any, Subject, Run], Result]] = {
    "move": _file,
    "copy": _file,
    "rename": _file,
    "tag": _tag,
    "run": _run,
    "notify": _notify,
}
