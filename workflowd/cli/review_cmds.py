"""``workflowd review``: one document at a time, single keys, least confident first.

Fits an 80x24 terminal, works over SSH, and prints no colour when NO_COLOR is set or the
output is not a terminal. Without a terminal on stdin it reads one answer per line (scripts).
Each kind of correction (a label, a list of names, a choice of sentences, a JSON object) has
its screen and its keys here; which kind a task takes is its correction schema.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group
from rich.rule import Rule
from rich.text import Text

from ..config import load_config
from ..errors import CorrectionError, WorkflowdError
from ..store import Store
from . import args as types

EXCERPT_CHARS = 420
NAMES_PER_PAGE = 12
TYPE_STYLES = {"PER": "bold cyan", "ORG": "bold magenta", "LOC": "bold green", "MISC": "bold yellow"}
HELP = {
    "label": "a accept · 1-9 pick · t type a label",
    "spans": "a accept · d delete · n add (TYPE=words) · < > page",
    "sentences": "a accept · c choose sentences",
    "json": "a accept · e enter JSON",
}


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "review",
        parents=[common],
        help="correct what the models got wrong, least confident first",
        description="Shows one document at a time (title, source, an excerpt with its names marked, "
        "the summary, the prediction with its confidence) and takes single keys: a accept (a document "
        "the model gave no label asks for one), 1-9 pick a label, t type a new one, d/n delete or add "
        "a name (< > page through them), c choose summary sentences, m mark the sentiment, s skip, "
        "u undo the last answer, q quit. Every answer is stored as it is given.",
    )
    p.add_argument("--task", action="append", metavar="TASK", help="only this task (repeatable; default all)")
    p.add_argument("--source", help="only documents from this source")
    p.add_argument("--label", help="only results whose predicted label is this")
    p.add_argument("--since", metavar="DATE", help="only documents added on or after DATE (ISO 8601)")
    p.add_argument("--limit", type=types.positive_int, metavar="N")
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


def render(
    item: Any, index: int, total: int, results: dict[str, Any], options: list[str] | None = None, page: int = 0
) -> Group:
    """One screen: the document, the prediction, and the keys of its kind of correction."""
    conf = "" if item.confidence is None else f" · confidence {item.confidence:.2f}"
    head = Text(f"[{index}/{total}] {item.task} · document {item.document_id}{conf}", style="bold")
    title = Text(_cut(item.title or item.name or "(untitled)", 78))
    where = Text(_cut(f"{item.source or ''} · {item.created_at[:10]}", 78), style="dim")
    ents = (results.get("entities") or {}).get("data") or {}
    entities = item.data.get("entities", []) if item.kind == "spans" else ents.get("entities", [])
    parts: list[Any] = [head, title, where, Rule(style="dim"), _excerpt(item.text, entities)]
    summary = ((results.get("summarize") or {}).get("data") or {}).get("summary")
    if summary and item.kind != "sentences":
        parts.append(Text(_cut("summary: " + summary, 156), style="italic"))
    parts.append(Rule(style="dim"))
    parts += SCREENS.get(item.kind, _json_screen)(item, options or [], page)
    parts.append(Text(f"{HELP.get(item.kind, HELP['json'])} · m sentiment · s skip · u undo · q quit", style="dim"))
    return Group(*parts)


def _label_screen(item: Any, options: list[str], page: int) -> list[Text]:
    data = item.data
    if data.get("label") is None and data.get("best_guess"):
        line = Text(f"predicted: none, below the threshold (best guess: {data['best_guess']})", style="bold")
    else:
        line = Text(f"predicted: {data.get('label') or data.get('best_guess')}", style="bold")
    scores = data.get("scores") or data.get("probabilities") or {}
    shown = [f"{i}:{o} {scores[o]:.2f}" if o in scores else f"{i}:{o}" for i, o in enumerate(options[:9], 1)]
    return [line, Text(_cut("  ".join(shown), 230))]


def _spans_screen(item: Any, options: list[str], page: int) -> list[Text]:
    names = item.data.get("entities", [])
    if not names:
        return [Text("no names found")]
    pages = max(1, -(-len(names) // NAMES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    first = page * NAMES_PER_PAGE
    listed = names[first : first + NAMES_PER_PAGE]
    out = [Text(_cut("  ".join(f"{first + i}:{e['type']} {_cut(e['text'], 20)}"
                               for i, e in enumerate(listed, 1)), 240))]
    if pages > 1:
        out.append(Text(f"names {first + 1}-{first + len(listed)} of {len(names)} · < > other pages", style="dim"))
    return out


def _sentences_screen(item: Any, options: list[str], page: int) -> list[Text]:
    return [Text(_cut("summary: " + (item.data.get("summary") or ""), 230))]


def _json_screen(item: Any, options: list[str], page: int) -> list[Text]:
    return [Text(_cut("predicted: " + json.dumps(item.data, ensure_ascii=False), 230))]


SCREENS = {"label": _label_screen, "spans": _spans_screen, "sentences": _sentences_screen, "json": _json_screen}


def cmd_review(args: argparse.Namespace) -> int:
    import signal

    from ..models.provider import ModelProvider
    from ..review import Session, queue
    from ..runtime import task_registry

    # Ctrl-C quits, even when started from a shell that ignores SIGINT for its background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = load_config(getattr(args, "config", None))
    if not settings.db_path.exists():
        raise WorkflowdError(f"nothing to review: no database yet at {settings.db_path}")
    registry = task_registry(settings)
    provider = ModelProvider(settings)
    wanted = list(dict.fromkeys(args.task or registry.names()))
    tasks = {name: registry.get(name)(settings, provider) for name in wanted}
    if "sentiment" in registry and "sentiment" not in tasks:  # `m` marks the sentiment of any document
        tasks["sentiment"] = registry.get("sentiment")(settings, provider)
    console = Console(highlight=False)
    store = Store(settings.db_path)
    keys = Keys()
    try:
        picked = {name: tasks[name] for name in wanted}
        items = queue(store, picked, source=args.source, label=args.label, since=args.since, limit=args.limit)
        session = Session(store, items, tasks, author=args.by)
        screen = Screen(session, keys, console)
        note = ""
        while (item := session.current) is not None:
            if console.is_terminal:
                console.clear()
            results = store.results.for_document(item.document_id)
            console.print(render(item, session.position + 1, len(items), results, session.options(item), screen.page))
            if note:
                console.print(note, markup=False, style="yellow")
                note = ""
            before = session.position
            try:
                note = screen.handle(keys.key(), item)
            except (CorrectionError, ValueError) as exc:
                note = f"not stored: {exc}"
            if session.position != before:
                screen.page = 0
            if note == "quit":
                break
        console.print(
            f"{len(session.answered)} answer(s) stored; {max(0, len(items) - session.position)} left in the queue",
            markup=False,
        )
    finally:
        store.close()
    return 0


class Screen:
    """The keys of a review: those every kind shares, then those of the item's kind."""

    def __init__(self, session: Any, keys: Keys, console: Console):
        self.session, self.keys, self.console = session, keys, console
        self.page = 0

    def handle(self, key: str, item: Any) -> str:
        if key == "q":
            return "quit"
        if key == "s":
            self.session.skip()
            return ""
        if key == "u":
            row = self.session.undo()
            return "nothing to undo" if row is None else f"took back correction {row['id']}"
        if key == "m":
            if "sentiment" not in self.session.tasks:
                return "no sentiment task"
            choice = self.keys.line("sentiment: 1 negative, 2 neutral, 3 positive: ", self.console)
            if choice in ("1", "2", "3"):
                self.session.sentiment(("negative", "neutral", "positive")[int(choice) - 1])
                return "sentiment stored"
            return "sentiment not changed"
        handler = getattr(self, f"_{item.kind}", self._json)
        return handler(key, item)

    def _accept(self, item: Any) -> str:
        self.session.accept()
        return ""

    def _label(self, key: str, item: Any) -> str:
        options = self.session.options(item)
        if key in ("a", "\n", "\r"):
            if item.data.get("label"):
                return self._accept(item)
            # an abstention: nothing was predicted, so nothing is taken without asking
            guess = item.data.get("best_guess")
            answer = self.keys.line(
                f"no label was given (best guess {guess}): a label, or its number 1-9; Enter cancels: ", self.console
            )
            if not answer:
                return "nothing stored"
            return self._pick(answer, options) if answer.isdigit() else self._typed(answer)
        if key.isdigit() and key != "0":
            return self._pick(key, options)
        if key == "t":
            label = self.keys.line("label: ", self.console)
            return self._typed(label) if label else ""
        return f"key {key!r} does nothing here"

    def _pick(self, number: str, options: list[str]) -> str:
        n = int(number)
        if not 1 <= n <= min(9, len(options)):
            return f"no option {number}"
        self.session.label(options[n - 1])
        return ""

    def _typed(self, label: str) -> str:
        row = self.session.label(label)
        stored = row["value"]["label"]
        return f"stored as {stored!r} (a label known already)" if stored != " ".join(label.split()) else ""

    def _spans(self, key: str, item: Any) -> str:
        names = item.data.get("entities", [])
        if key in ("a", "\n", "\r"):
            return self._accept(item)
        if key in (">", "]", " "):
            self.page = min(self.page + 1, max(0, (len(names) - 1) // NAMES_PER_PAGE))
            return ""
        if key in ("<", "["):
            self.page = max(0, self.page - 1)
            return ""
        if key == "d":
            n = self.keys.line(f"delete name number (1-{len(names)}): ", self.console)
            if not n.isdigit() or not 1 <= int(n) <= len(names):
                return f"no name {n!r}"
            item.data["entities"] = [e for i, e in enumerate(names, 1) if i != int(n)]
            return "deleted; a stores the list as shown"
        if key == "n":
            from ..tasks.corrections import entity_value

            spec = self.keys.line("add (TYPE=words or TYPE:START-END): ", self.console)
            added = entity_value(item.text, [spec])["entities"] if spec else []
            item.data["entities"] = sorted(names + added, key=lambda e: e["start"])
            return f"added {len(added)}; a stores the list as shown"
        return f"key {key!r} does nothing here"

    def _sentences(self, key: str, item: Any) -> str:
        if key in ("a", "\n", "\r"):
            return self._accept(item)
        if key == "c":
            from ..sentences import split_sentences

            for i, s in enumerate(split_sentences(item.text)[:12]):
                self.console.print(f"{i}: {_cut(s.text, 74)}", markup=False)
            picked = self.keys.line("sentence numbers (e.g. 0,2): ", self.console)
            try:
                self.session.summary([int(x) for x in picked.replace(" ", "").split(",") if x])
            except ValueError:
                return f"not sentence numbers: {picked!r}"
            return ""
        return f"key {key!r} does nothing here"

    def _json(self, key: str, item: Any) -> str:
        if key in ("a", "\n", "\r"):
            return self._accept(item)
        if key == "e":
            from ..tasks import CorrectionInput

            value = self.keys.line("JSON object: ", self.console)
            if value:
                self.session.answer(CorrectionInput(value=value))
            return ""
        return f"key {key!r} does nothing here"
