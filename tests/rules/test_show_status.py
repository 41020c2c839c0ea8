"""What the rules and alerts did to a document shows in `show`, and deliveries in `status`."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Env, base_config


def test_show_and_status_tell_what_rules_and_alerts_did(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox, """
[pipelines.default]
steps = []
[[rules]]
name = "tag-notes"
when = { name = "*.txt" }
actions = [{ type = "tag", tags = ["notes", "y{{ date.year }}"] }, { type = "notify", to = ["hook"] }]
[[rules]]
name = "pdfs-only"
when = { media_type = "application/pdf" }
actions = [{ type = "tag", tags = "pdf" }]
[notifiers.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
"""))
    note = tmp_path / "note.txt"
    note.write_text("Remember the dentist on Tuesday.\n")
    env.run("ingest", str(note))
    doc = env.json("show", "1", "--json")
    assert doc["tags"][0] == "notes" and doc["tags"][1].startswith("y20")
    assert doc["rules"]["tag-notes"]["status"] == "applied"
    assert doc["rules"]["pdfs-only"]["status"] == "skipped"
    assert [a["name"] for a in doc["alerts"]] == ["tag-notes"]
    text = env.run("show", "1").stdout
    assert "tags: notes, y20" in text and "rules: tag-notes applied" in text and "pdfs-only" not in text
    assert "alert 1 (warning): tag-notes: note" in text
    status = env.json("status", "--json")
    assert status["deliveries"]["pending"] + status["deliveries"]["dead"] == 1  # nothing listens on port 9
    assert "alert deliveries: pending 1" in env.run("status").stdout
