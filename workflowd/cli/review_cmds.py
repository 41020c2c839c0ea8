"""``workflowd review``: one document at a time, single keys, least confident first.

Fits an 80x24 terminal, works over SSH, and prints no colour when NO_COLOR is set or the
output is not a terminal. Without a terminal on stdin it reads one answer per line (scripts).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group
from rich.rule import Rule
from rich.text import Text

from ..config import load_config
from ..corrections import TASKS, CorrectionError
from ..errors import WorkflowdError
from ..store import Store

EXCERPT_CHARS = 420
TYPE_STYLES = {"PER": "bold cyan", "ORG": "bold magenta", "LOC": "bold green", "MISC": "bold yellow"}
HELP = {
    "classify": "a accept · 1-9 pick · t type a label",
    "sentiment": "a accept · 1 negative 2 neutral 3 positive",
    "entities": "a accept · d delete one · n add one (TYPE=words)",
    "summarize": "a accept · c choose sentences",
}


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "review",
        parents=[common],
        help="correct what the models got wrong, least confident first",
        description="Shows one document at a time (title, source, an excerpt with its names marked, "
        "the summary, the prediction with its confidence) and takes single keys: a accept, 1-9 pick a "
        "label, t type a new one, d/n delete or add a name, c choose summary sentences, m mark the "
        "sentiment, s skip, u undo the last answer, q quit. Every answer is stored as it is given.",
    )
    p.add_argument("--task", choices=TASKS, action="append", help="only this task (repeatable; default all)")
    p.add_argument("--source", help="only documents from this source")
    p.add_argument("--label", help="only results whose predicted label is this")
    p.add_argument("--since", metavar="DATE", help="only documents added on or after DATE (ISO 8601)")
    p.add_argument("--limit", type=int, metavar="N")
    p.add_argument("--by", metavar="NAME", help="who answers (default: the user name)")
    p.set_defaults(func=cmd_review)


class Keys:
    """Single keys from a terminal (cbreak: Ctrl-C still interrupts), else one line per answer."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stdin
        self.tty = self.stream.isatty()

    @contextlib.contextmanager
    def raw(self) -> Iterator[None]:
        if not self.tty:
            yield
            return
        import termios
        import tty

        fd = self.stream.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def key(self) -> str:
        if self.tty:
            with self.raw():
                ch = os.read(self.stream.fileno(), 1).decode(errors="replace")
            return "q" if ch in ("", "\x04") else ch
        line = self.stream.readline()
        if not line:
            return "q"  # end of input: quit, keeping every answer
        return line.strip()[:1] or "\n"

    def line(self, prompt: str, console: Console) -> str:
        console.print(prompt, end="", markup=False)
        if self.tty:
            return input().strip()
        line = self.stream.readline()
        console.print(line.rstrip("\n"), markup=False)
        return line.strip()


def _excerpt(text: str, entities: list[dict[str, Any]], limit: int = EXCERPT_CHARS) -> Text:
    """The start of the text on a few lines, whitespace folded, names marked by type."""
    out = Text()
    at = 0
    for e in sorted(entities, key=lambda e: e["start"]):
        if e["start"] >= limit or e["start"] < at:
            continue
        out.append(re.sub(r"\s+", " ", text[at : e["start"]]))
        out.append(
            re.sub(r"\s+", " ", text[e["start"] : e["end"]]), style=TYPE_STYLES.get(e["type"], "underline")
        )
        at = e["end"]
    if at < limit:
        out.append(re.sub(r"\s+", " ", text[at:limit]))
    if len(text) > limit:
        out.append(" …")
    return out


def _cut(s: str, n: int) -> str:
    s = re.sub(r"\s+", " ", s or "").strip()
    return s if len(s) <= n else s[: n - 1] + "…"


def render(item: Any, index: int, total: int, results: dict[str, Any]) -> Group:
    conf = "" if item.confidence is None else f" · confidence {item.confidence:.2f}"
    head = Text(f"[{index}/{total}] {item.task} · document {item.document_id}{conf}", style="bold")
    title = Text(_cut(item.title or item.name or "(untitled)", 78))
    where = Text(_cut(f"{item.source or ''} · {item.created_at[:10]}", 78), style="dim")
    ents = (results.get("entities") or {}).get("data") or {}
    entities = item.data.get("entities", []) if item.task == "entities" else ents.get("entities", [])
    parts: list[Any] = [head, title, where, Rule(style="dim"), _excerpt(item.text, entities)]
    summary = ((results.get("summarize") or {}).get("data") or {}).get("summary")
    if summary and item.task != "summarize":
        parts.append(Text(_cut("summary: " + summary, 156), style="italic"))
    parts.append(Rule(style="dim"))
    if item.task in ("classify", "sentiment"):
        if item.task == "classify" and item.data.get("label") is None:
            guess = item.data.get("best_guess")
            parts.append(Text(f"predicted: none, below the threshold (best guess: {guess})", style="bold"))
        else:
            parts.append(Text(f"predicted: {item.predicted_label}", style="bold"))
        scores = item.data.get("scores") or item.data.get("probabilities") or {}
        options = item.label_options()[:9]
        parts.append(Text("  ".join(f"{i}:{o} {scores.get(o, 0):.2f}" for i, o in enumerate(options, 1))))
    elif item.task == "entities":
        listed = item.data.get("entities", [])[:9]
        parts.append(
            Text(
                "  ".join(f"{i}:{e['type']} {_cut(e['text'], 24)}" for i, e in enumerate(listed, 1))
                or "no names found"
            )
        )
        if len(item.data.get("entities", [])) > 9:
            parts.append(Text(f"… and {len(item.data['entities']) - 9} more", style="dim"))
    else:
        parts.append(Text(_cut("summary: " + (item.data.get("summary") or ""), 230)))
    parts.append(Text(f"{HELP[item.task]} · m sentiment · s skip · u undo · q quit", style="dim"))
    return Group(*parts)


def cmd_review(args: argparse.Namespace) -> int:
    from ..review import SENTIMENT_LABELS, Session, queue

    import signal

    # Ctrl-C quits, even when started from a shell that ignores SIGINT for its background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = load_config(getattr(args, "config", None))
    if not settings.db_path.exists():
        raise WorkflowdError(f"nothing to review: no database yet at {settings.db_path}")
    console = Console(highlight=False)
    store = Store(settings.db_path)
    keys = Keys()
    try:
        items = queue(
            store,
            tasks=tuple(args.task or TASKS),
            source=args.source,
            label=args.label,
            since=args.since,
            limit=args.limit,
        )
        session = Session(store, items, author=args.by)
        note = ""
        while (item := session.current) is not None:
            if console.is_terminal:
                console.clear()
            results = store.results.for_document(item.document_id)
            console.print(render(item, session.position + 1, len(items), results))
            if note:
                console.print(note, markup=False, style="yellow")
                note = ""
            key = keys.key()
            try:
                note = _handle(key, item, session, keys, console, SENTIMENT_LABELS)
            except (CorrectionError, ValueError) as exc:
                note = f"not stored: {exc}"
            if note == "quit":
                break
        answered = len(session.answered)
        console.print(
            f"{answered} answer(s) stored; {max(0, len(items) - session.position)} left in the queue",
            markup=False,
        )
    finally:
        store.close()
    return 0


def _handle(
    key: str, item: Any, session: Any, keys: Keys, console: Console, sentiments: tuple[str, ...]
) -> str:
    if key == "q":
        return "quit"
    if key in ("a", "\n", "\r"):
        session.accept()
        return ""
    if key == "s":
        session.skip()
        return ""
    if key == "u":
        row = session.undo()
        return "nothing to undo" if row is None else f"took back correction {row['id']}"
    if key == "m":
        choice = keys.line("sentiment: 1 negative, 2 neutral, 3 positive: ", console)
        if choice in ("1", "2", "3"):
            session.sentiment(sentiments[int(choice) - 1])
            return "sentiment stored"
        return "sentiment not changed"
    if key.isdigit() and key != "0" and item.task in ("classify", "sentiment"):
        options = item.label_options()
        if int(key) > len(options):
            return f"no option {key}"
        session.label(options[int(key) - 1])
        return ""
    if key == "t" and item.task == "classify":
        label = keys.line("label: ", console)
        if label:
            session.label(label)
        return ""
    if key == "d" and item.task == "entities":
        n = keys.line("delete name number: ", console)
        current = item.data.get("entities", [])
        if not n.isdigit() or not 1 <= int(n) <= len(current):
            return f"no name {n!r}"
        item.data["entities"] = [e for i, e in enumerate(current, 1) if i != int(n)]
        return "deleted; a stores the list as shown"
    if key == "n" and item.task == "entities":
        spec = keys.line("add (TYPE=words or TYPE:START-END): ", console)
        from ..corrections import entity_value

        added = entity_value(item.text, [spec])["entities"] if spec else []
        item.data["entities"] = sorted(item.data.get("entities", []) + added, key=lambda e: e["start"])
        return f"added {len(added)}; a stores the list as shown"
    if key == "c" and item.task == "summarize":
        from ..sentences import split_sentences

        for i, s in enumerate(split_sentences(item.text)[:12]):
            console.print(f"{i}: {_cut(s.text, 74)}", markup=False)
        picked = keys.line("sentence numbers (e.g. 0,2): ", console)
        try:
            session.summary([int(x) for x in picked.replace(" ", "").split(",") if x])
        except ValueError:
            return f"not sentence numbers: {picked!r}"
        return ""
    return f"key {key!r} does nothing here"
