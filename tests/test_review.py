"""`workflowd review` driven as a person would, in a pseudo-terminal (pexpect), and as a script."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from rich.console import Console

from tests.conftest import Env, base_config
from tests.daemon.helpers import query
from tests.training.test_classify import TOPIC_LABELS as LABELS
from workflowd.cli.review_cmds import render
from workflowd.review import Item

TEXTS = {
    "match.txt": "The striker scored twice and the team won the cup final in extra time.",
    "bank.txt": "The bank raised its interest rate and shares fell on the stock market.",
    "soup.txt": "Simmer the onions, add the stock and season the soup before serving.",
    "mixed.txt": "After the match the players had dinner at a restaurant paid by the club's sponsor.",
}
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7])m")


# Every document abstains: what `a` does then is what is tested.
UNSURE = """
[steps.classify]
threshold = 0.99
"""


@pytest.fixture
def env(wf_env: Env, tmp_path: Path) -> Env:
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox) + LABELS + UNSURE)
    for name, text in TEXTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    wf_env.run("ingest", *[str(tmp_path / n) for n in TEXTS])
    return wf_env


def _order(env: Env) -> list[int]:
    rows = query(
        env, "SELECT document_id FROM step_results WHERE step = 'classify' ORDER BY confidence, document_id"
    )
    return [r["document_id"] for r in rows]


def _corrections(env: Env) -> list[dict]:
    return env.json("corrections", "list")


def _spawn(env: Env, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "workflowd", "review", *args],
        env=env.env,
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=60,
    )


def test_review_in_a_terminal_least_confident_first_undo_and_quit(env: Env) -> None:
    order = _order(env)
    shown = env.json("show", str(order[0]))["results"]["classify"]
    second_best = sorted(shown["data"]["scores"], key=lambda k: -shown["data"]["scores"][k])[1]
    child = _spawn(env, "--task", "classify", "--by", "tester")
    child.expect(rf"\[1/4\] classify · document {order[0]} · confidence")
    child.send("2")  # the second option: the second most likely label
    child.expect(rf"\[2/4\] classify · document {order[1]}")
    assert [(c["document_id"], c["value"]["label"]) for c in _corrections(env)] == [(order[0], second_best)]
    child.send("u")
    child.expect(rf"\[1/4\] classify · document {order[0]}")
    child.expect("took back correction")
    assert _corrections(env) == []
    child.send("a")  # the model gave no label: accepting asks for one instead of storing the guess
    child.expect("no label was given \\(best guess")
    child.sendline("")  # Enter cancels
    child.expect("nothing stored")
    assert _corrections(env) == []
    child.send("a")
    child.expect("no label was given")
    child.sendline("1")  # its number: the best guess, chosen on purpose
    child.expect(rf"\[2/4\] classify · document {order[1]}")
    child.send("q")
    child.expect("1 answer\\(s\\) stored; 3 left in the queue")
    child.expect(pexpect.EOF)
    rows = _corrections(env)
    assert [(c["document_id"], c["value"]["label"], c["origin"], c["author"]) for c in rows] == [
        (order[0], shown["data"]["best_guess"], "review", "tester")
    ]


def test_ctrl_c_and_a_closed_terminal_lose_nothing_answered(env: Env) -> None:
    order = _order(env)
    child = _spawn(env)
    child.expect(r"\[1/\d+\] classify")
    child.send("t")
    child.expect("label: ")
    child.sendline("groceries")
    child.expect(r"\[2/\d+\]")
    child.sendintr()  # Ctrl-C
    child.expect(pexpect.EOF)
    assert [(c["document_id"], c["value"]["label"]) for c in _corrections(env)] == [(order[0], "groceries")]

    child = _spawn(env, "--task", "classify")
    child.expect(rf"\[1/3\] classify · document {order[1]}")  # answered documents leave the queue
    child.send("s")  # skip
    child.expect(rf"\[2/3\] classify · document {order[2]}")
    child.send("m")
    child.expect("sentiment: 1 negative, 2 neutral, 3 positive: ")
    child.sendline("3")
    child.expect("sentiment stored")
    child.send("1")
    child.expect(r"\[3/3\]")
    child.close(force=True)  # the terminal goes away
    scores = env.json("show", str(order[2]))["results"]["classify"]["data"]["scores"]
    top = max(scores, key=scores.get)
    got = {(c["document_id"], c["task"], c["value"]["label"]) for c in _corrections(env)}
    assert got == {
        (order[0], "classify", "groceries"),
        (order[2], "sentiment", "positive"),
        (order[2], "classify", top),
    }


def test_review_without_a_terminal_or_with_no_color(env: Env) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workflowd", "review"],
        input="a\n1\ns\n",  # `a` on an abstention reads the label (here its number) from the next line
        env=env.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "\x1b[" not in proc.stdout
    assert "1 answer(s) stored" in proc.stdout and len(_corrections(env)) == 1
    child = pexpect.spawn(
        sys.executable,
        ["-m", "workflowd", "review"],
        env={**env.env, "NO_COLOR": "1"},
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=60,
    )
    child.expect(r"\[1/3\]")
    child.send("q")
    child.expect(pexpect.EOF)
    assert not COLOUR.search(child.before or "")


def test_a_screen_fits_80_by_24() -> None:
    text = " ".join(f"Anna Schmidt of Acme Corp met Bob Jones in Berlin on day {i}." for i in range(200))
    ents = []
    for m in re.finditer(r"Anna Schmidt|Acme Corp|Berlin", text):
        ents.append(
            {
                "type": {"A": "PER", "B": "LOC"}.get(m.group()[0], "ORG")
                if m.group() != "Acme Corp"
                else "ORG",
                "start": m.start(),
                "end": m.end(),
                "text": m.group(),
                "confidence": 0.9,
            }
        )
    results = {"entities": {"data": {"entities": ents}}, "summarize": {"data": {"summary": text[:900]}}}
    for task, data in [
        ("entities", {"entities": ents}),
        (
            "classify",
            {"label": None, "best_guess": "tax", "scores": {f"label{i}": 1 / 12 for i in range(12)}},
        ),
        ("summarize", {"summary": text[:900]}),
    ]:
        item = Item(
            1,
            task,
            0.5,
            data,
            "v1",
            "x" * 300,
            "y" * 300,
            "folder:" + "z" * 300,
            "2026-11-29T00:00:00Z",
            text=text,
        )
        item.kind = {"entities": "spans", "classify": "label", "summarize": "sentences"}[task]
        options = [f"label{i}" for i in range(12)]
        for page in (0, 1, 2):
            out = io.StringIO()
            Console(file=out, width=80, force_terminal=True).print(render(item, 1, 9, results, options, page))
            lines = out.getvalue().splitlines()
            assert len(lines) <= 20, (task, len(lines))
        if task == "entities":  # every name can be reached: the last page lists the last ones
            assert f"names 1-12 of {len(ents)}" in _screen(item, results, 0)
            last = _screen(item, results, 99)
            assert f"{len(ents)}:" in last and f"of {len(ents)}" in last


def _screen(item: Item, results: dict, page: int) -> str:
    out = io.StringIO()
    Console(file=out, width=80).print(render(item, 1, 1, results, [], page))
    return out.getvalue()


def test_typed_labels_join_the_choices_and_match_known_ones(env: Env) -> None:
    order = _order(env)
    child = _spawn(env, "--task", "classify")
    child.expect(rf"\[1/4\] classify · document {order[0]}")
    child.send("t")
    child.expect("label: ")
    child.sendline("Groceries")
    child.expect(rf"\[2/4\] classify · document {order[1]}")
    child.expect(r"(\d):Groceries")  # the typed label is among the choices now
    number = child.match.group(1)
    child.send(number)
    child.expect(rf"\[3/4\] classify · document {order[2]}")
    child.send("t")
    child.expect("label: ")
    child.sendline("  SPORT ")  # a described label, typed with other capitals
    child.expect(rf"\[4/4\] classify · document {order[3]}")
    child.send("q")
    child.expect(pexpect.EOF)
    assert [(c["document_id"], c["value"]["label"]) for c in _corrections(env)] == [
        (order[0], "Groceries"), (order[1], "Groceries"), (order[2], "sport")
    ]
    # taken back outside the session
    first = _corrections(env)[0]["id"]
    out = env.run("corrections", "delete", str(first)).stdout
    assert f"correction {first} taken back" in out
    assert [c["id"] for c in _corrections(env)] == [first + 1, first + 2]
    again = env.run("corrections", "delete", str(first), check=False)
    assert again.returncode == 1 and "already taken back" in again.stderr
    assert len(env.json("corrections", "list", "--all")) == 3


def test_every_name_can_be_reached_and_deleted(wf_env: Env, tmp_path: Path) -> None:
    people = ["Anna Schmidt", "Bob Jones", "Carla Diaz", "Dan Brown", "Eva Green", "Frank Ocean", "Gina Torres",
              "Hank Azaria", "Ivy Chen", "Jack White", "Kim Novak", "Liam Neeson", "Mia Farrow", "Ned Stark",
              "Olga Kurylenko", "Paul Rudd"]
    text = " ".join(f"{p} met the committee in Geneva on Monday." for p in people)
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox) + '\n[pipelines.default]\nsteps = ["entities"]\n')
    (tmp_path / "meeting.txt").write_text(text, encoding="utf-8")
    wf_env.run("ingest", str(tmp_path / "meeting.txt"))
    found = wf_env.json("show", "1")["results"]["entities"]["data"]["entities"]
    assert len(found) > 12
    child = _spawn(wf_env, "--task", "entities")
    child.expect(rf"names 1-12 of {len(found)}")
    pages = (len(found) - 1) // 12
    for _ in range(pages):  # to the last page
        child.send(">")
    child.expect(rf"names {pages * 12 + 1}-{len(found)} of {len(found)}")
    last = found[-1]
    child.send("d")
    child.expect("delete name number")
    child.sendline(str(len(found)))
    child.expect("deleted; a stores the list as shown")
    child.send("a")
    child.expect("1 answer\\(s\\) stored")
    child.expect(pexpect.EOF)
    [c] = wf_env.json("corrections", "list")
    kept = [(e["start"], e["end"]) for e in c["value"]["entities"]]
    assert len(kept) == len(found) - 1 and (last["start"], last["end"]) not in kept
