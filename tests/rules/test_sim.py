"""``workflowd rules sim`` as a user runs it: it says why, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Env, base_config
from workflowd.store import Store

from .helpers import add_document, classified, dump, settings_for, tree


def _config(env: Env) -> str:
    root = env.root
    return base_config(env.data_dir, env.inbox) + f"""
[[rules]]
name = "invoices"
when = {{ label = "invoice", min_confidence = 0.5 }}
actions = [
  {{ type = "move", to = "{root}/sorted/{{{{ label }}}}/{{{{ name }}}}" }},
  {{ type = "tag", tags = ["paid-{{{{ date.year }}}}"] }},
]

[[rules]]
name = "negative"
when = {{ sentiment = "negative" }}
actions = [{{ type = "notify", to = ["hook"] }}]

[[rules]]
name = "keep-a-copy"
actions = [
  {{ type = "copy", to = "{env.inbox}/backup/{{{{ label or 'unsorted' }}}}/{{{{ name }}}}" }},
  {{ type = "run", argv = ["touch", "{root}/ran-{{{{ id }}}}"], timeout = 5 }},
]

[[rules]]
name = "strict"
actions = [{{ type = "copy", to = "{root}/strict/{{{{ label }}}}/{{{{ name }}}}" }}]

[notifiers.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
"""


def _documents(env: Env) -> tuple[int, int]:
    settings = settings_for(env.data_dir, [])
    store = Store(settings.db_path)
    try:
        a = env.inbox / "march.pdf"
        a.write_bytes(b"%PDF invoice")
        invoice = add_document(store, settings, a, source=f"folder:{env.inbox}",
                               results={"classify": classified("invoice"),
                                        "sentiment": {"label": "neutral", "score": 0.0}}, confidence=0.9)
        (env.root / "sorted" / "invoice").mkdir(parents=True)
        (env.root / "sorted" / "invoice" / "march.pdf").write_bytes(b"another march")  # a conflict
        b = env.inbox / "angry.txt"
        b.write_text("this is terrible")
        angry = add_document(store, settings, b, source=f"folder:{env.inbox}",
                             results={"classify": classified(None), "sentiment": {"label": "negative", "score": -0.9}},
                             confidence=0.2)
    finally:
        store.close()
    return invoice, angry


def test_rules_sim_says_why_and_changes_nothing(wf_env: Env) -> None:
    wf_env.write_config(_config(wf_env))
    invoice, angry = _documents(wf_env)
    db = wf_env.data_dir / "workflowd.db"
    files_before, db_before = _files(wf_env.root), dump(db)

    reports = json.loads(wf_env.run("rules", "sim", "--json").stdout)
    text = wf_env.run("rules", "sim", str(angry), str(invoice)).stdout
    one = json.loads(wf_env.run("rules", "sim", str(angry), "--json").stdout)

    assert _files(wf_env.root) == files_before and dump(db) == db_before  # nothing changed, on disk or in the store
    assert not (wf_env.root / f"ran-{invoice}").exists() and not (wf_env.inbox / "backup").exists()

    assert [r["document_id"] for r in reports] == [invoice, angry] and [r["document_id"] for r in one] == [angry]
    by_doc = {r["document_id"]: {x["rule"]: x for x in r["rules"]} for r in reports}
    inv = by_doc[invoice]
    assert {k: v["status"] for k, v in inv.items()} == {
        "invoices": "would apply", "negative": "not matched", "keep-a-copy": "would apply", "strict": "would apply"}
    assert [c["detail"] for c in inv["invoices"]["conditions"]] == [
        "label: invoice is one of [invoice]", "confidence: 0.90 ≥ 0.5"]
    move, tag = inv["invoices"]["actions"]
    assert move["detail"]["to"] == str(wf_env.root / "sorted" / "invoice" / "march (2).pdf")
    assert "(" + str(wf_env.root / "sorted" / "invoice" / "march.pdf") + " exists)" in move["summary"]
    assert tag["detail"]["tags"][0].startswith("paid-20")
    assert inv["negative"]["conditions"][0] == {"condition": "sentiment", "passed": False,
                                                "detail": "sentiment: neutral is not negative"}
    copy, run = inv["keep-a-copy"]["actions"]
    # the later rule copies from where the move would have put the file
    assert copy["detail"]["from"] == move["detail"]["to"]
    assert copy["detail"]["to"] == str(wf_env.inbox / "backup" / "invoice" / "march (2).pdf")
    assert run["detail"]["argv"] == ["touch", f"{wf_env.root}/ran-{invoice}"] and run["status"] == "would"

    ang = by_doc[angry]
    assert ang["invoices"]["status"] == "not matched"
    assert ang["invoices"]["conditions"][0]["detail"] == (
        "label: none (classify abstained; best guess invoice), not one of [invoice]")
    assert ang["negative"]["actions"][0]["summary"] == "would alert (warning) to hook: negative: angry"
    assert ang["keep-a-copy"]["actions"][0]["detail"]["to"].endswith("/backup/unsorted/angry.txt")
    assert ang["strict"]["status"] == "would fail" and "label or 'unsorted'" in ang["strict"]["error"]

    assert "✓ label: invoice is one of [invoice]" in text and "✗ sentiment: neutral is not negative" in text
    assert "would move" in text and "would alert (warning) to hook" in text and "would fail" in text
    assert text.index(f"document {angry}:") < text.index(f"document {invoice}:")  # in the order asked


def test_rules_sim_of_an_unknown_document(wf_env: Env) -> None:
    wf_env.write_config(_config(wf_env))
    _documents(wf_env)
    proc = wf_env.run("rules", "sim", "999", check=False)
    assert proc.returncode == 1 and "no document with id 999" in proc.stderr


def _files(root: Path) -> dict[str, tuple[str, int]]:
    """Every file but the database's own (compared by its content instead)."""
    return {k: v for k, v in tree(root).items() if "workflowd.db" not in k}


def test_rules_sim_shows_what_already_ran(wf_env: Env) -> None:
    from workflowd.config import load_config
    from workflowd.rules.engine import apply_rules

    wf_env.write_config(_config(wf_env))
    _invoice, angry = _documents(wf_env)
    settings = load_config(wf_env.config)
    store = Store(settings.db_path)
    try:
        ran = apply_rules(store, settings, angry, rules=settings.rules[:1])  # only "invoices": not matched
    finally:
        store.close()
    assert [r.status for r in ran.rules] == ["not matched"]
    (report,) = json.loads(wf_env.run("rules", "sim", str(angry), "--json").stdout)
    rules = {r["rule"]: r for r in report["rules"]}
    assert rules["invoices"]["ran"]["status"] == "skipped" and rules["negative"]["ran"] is None
    assert "[already run: skipped at " in wf_env.run("rules", "sim", str(angry)).stdout
