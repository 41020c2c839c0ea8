"""Every shared PDF and e-mail goes through `workflowd ingest` in one process, which survives them all."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import Env, base_config, shared_data

pytestmark = pytest.mark.slow


def test_every_shared_pdf_and_email_is_processed_or_failed_with_a_reason(wf_env: Env) -> None:
    pdfs, emails = shared_data("pdfs"), shared_data("emails")
    # Extraction and the store are under test here; the model steps have tests of their own
    # (with classify, the 2,700 documents would take minutes on two cores).
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox, "[pipelines.default]\nsteps = []\n"))
    files = [os.path.join(d, f) for root in (pdfs, emails) for d, _, fs in os.walk(root) for f in fs]
    proc = wf_env.run("ingest", str(pdfs), str(emails), "--json", timeout=900)
    docs = json.loads(proc.stdout)
    # every file is a document, or another location of one (same content)
    missing = set(files) - _locations(wf_env)
    assert not missing, f"files without a document: {sorted(missing)[:10]}"

    failed = [d for d in docs if d["status"] == "failed"]
    assert all(d["status"] in ("done", "failed") for d in docs)
    for d in failed:
        assert d["error"] and "\n" not in d["error"] and len(d["error"]) < 400, d
        assert "Traceback" not in d["error"]
    done = [d for d in docs if d["status"] == "done"]
    children = sum(d["parent_id"] is not None for d in docs)
    print(f"{len(files)} files -> {len(docs)} documents ({children} attachments): "
          f"{len(done)} done, {len(failed)} failed")
    assert len(done) > 0.9 * len(docs)


def _locations(env: Env) -> set[str]:
    import sqlite3

    conn = sqlite3.connect(env.data_dir / "workflowd.db")
    try:
        return {row[0] for row in conn.execute("SELECT path FROM locations")}
    finally:
        conn.close()
