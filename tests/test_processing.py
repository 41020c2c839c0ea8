"""A claimed job to stored results: retries, step failures, attachments, lost jobs."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_data, write_steps_plugin
from workflowd.config import load_config
from workflowd.extract import SandboxedExtractor
from workflowd.intake import take_file
from workflowd.processing import Processor
from workflowd.runtime import build_pipelines
from workflowd.store import Store


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Store, Processor, Path]]:
    plugins = write_steps_plugin(tmp_path / "plugins")
    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent(f"""
        data_dir = "{tmp_path / 'data'}"
        plugins_dir = "{plugins}"
        [jobs]
        max_attempts = 2
        retry_delay = 10
        [pipelines.default]
        steps = ["boom", "chars"]
    """))
    settings = load_config(config)
    store = Store(settings.db_path)
    with SandboxedExtractor(settings.extract, settings.blob_dir) as extractor:
        yield store, Processor(store, settings, build_pipelines(settings), extractor), tmp_path
    store.close()


def _take(store: Store, processor: Processor, path: Path) -> int:
    doc_id, _ = take_file(store, processor.settings, path, source="test", pipeline="default")
    return doc_id


def test_failing_step_is_stored_and_others_run(setup) -> None:
    store, processor, tmp = setup
    (tmp / "a.txt").write_text("hello there")
    doc_id = _take(store, processor, tmp / "a.txt")
    assert processor.process(store.jobs.claim()) == "done"
    results = store.results.for_document(doc_id)
    assert results["boom"]["status"] == "failed" and results["boom"]["error"] == "ValueError: no good"
    assert results["chars"] == {
        "status": "ok", "data": {"chars": 11}, "confidence": 0.5, "model_version": "v1",
        "needs_review": True, "error": None, "created_at": results["chars"]["created_at"],
    }
    doc = store.documents.get(doc_id)
    assert doc["status"] == "done" and doc["text"] == "hello there" and doc["processed_at"]


def test_vanished_file_is_retried_with_backoff_then_failed(setup) -> None:
    store, processor, tmp = setup
    (tmp / "gone.txt").write_text("soon gone")
    doc_id = _take(store, processor, tmp / "gone.txt")
    (tmp / "gone.txt").unlink()
    job = store.jobs.claim(now=0)
    assert processor.process(job) == "queued"
    doc = store.documents.get(doc_id)
    assert doc["status"] == "queued" and "gone" in doc["error"]
    assert store.jobs.claim() is None  # waiting for its retry delay (10 s)
    job = store.jobs.claim(now=float("inf"))
    assert job.attempts == 2
    assert processor.process(job) == "failed"
    assert store.documents.get(doc_id)["status"] == "failed"


def test_content_is_read_from_another_location_when_the_first_is_gone(setup) -> None:
    store, processor, tmp = setup
    (tmp / "a.txt").write_text("same")
    (tmp / "b.txt").write_text("same")
    doc_id = _take(store, processor, tmp / "a.txt")
    assert _take(store, processor, tmp / "b.txt") == doc_id
    (tmp / "a.txt").unlink()
    assert processor.process(store.jobs.claim()) == "done"
    assert store.documents.get(doc_id)["text"] == "same"


def test_changed_file_is_not_processed_with_the_wrong_content(setup) -> None:
    store, processor, tmp = setup
    (tmp / "a.txt").write_text("first version")
    doc_id = _take(store, processor, tmp / "a.txt")
    (tmp / "a.txt").write_text("second version")
    assert processor.process(store.jobs.claim()) == "queued"
    assert "changed" in store.documents.get(doc_id)["error"]


def test_damaged_pdf_fails_at_once_with_the_reason(setup) -> None:
    store, processor, tmp = setup
    (tmp / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog\n")
    doc_id = _take(store, processor, tmp / "bad.pdf")
    assert processor.process(store.jobs.claim()) == "failed"
    doc = store.documents.get(doc_id)
    assert doc["error"].startswith("damaged PDF") and doc["media_type"] == "application/pdf"
    assert store.jobs.counts() == {"failed": 1}


def test_attachments_become_child_documents_with_their_own_jobs(setup) -> None:
    store, processor, tmp = setup
    mail = shared_data("emails", "mail_gem_fixtures", "attachment_emails", "attachment_nonascii_filename.eml")
    doc_id = _take(store, processor, mail)
    assert processor.process(store.jobs.claim()) == "done"
    [child_id] = store.documents.children(doc_id)
    child = store.documents.get(child_id)
    assert child["name"] == "ciële.txt" and child["status"] == "queued" and child["source"] == "test"
    assert Path(child["path"]).is_relative_to(processor.settings.blob_dir)
    assert processor.process(store.jobs.claim()) == "done"
    assert store.documents.get(child_id)["text"].startswith("Hi there.")


def test_repredict_reruns_one_step_on_stored_text_of_unreviewed_documents(setup) -> None:
    store, processor, tmp = setup
    ids = []
    for name, text in (("a.txt", "hello there"), ("b.txt", "reviewed one"), ("c.txt", "third")):
        (tmp / name).write_text(text)
        ids.append(_take(store, processor, tmp / name))
    while (job := store.jobs.claim()) is not None:
        processor.process(job)
    a, b, c = ids
    with store.transaction():  # an older model's answers, to be replaced
        for doc_id in ids:
            store.results.save(doc_id, "chars", data={"chars": -1}, model_version="v0")
        store.results.save(c, "boom", data={"earlier": True}, model_version="v0")
        store.corrections.add("chars", {"chars": 12}, document_id=b, model_version="v0")  # reviewed
    (tmp / "a.txt").unlink()  # no file is read: the stored text is used

    with store.transaction():
        assert store.jobs.queue_repredict("chars", limit=5) == 2  # a and c, not the reviewed b
        assert store.jobs.queue_repredict("chars", limit=5) == 0  # already waiting
    with store.transaction():
        assert store.jobs.queue_repredict("boom", limit=1) == 1  # the newest only
    jobs = store.jobs.claim_batch(10)
    assert [(j.kind, j.step, j.document_id) for j in jobs] == [
        ("repredict", "chars", c), ("repredict", "chars", a), ("repredict", "boom", c)
    ]  # the newest documents first
    assert {store.documents.get(i)["status"] for i in ids} == {"done"}  # never "processing"
    assert processor.process_batch(jobs) == ["done", "done", "failed"]
    results = {i: store.results.for_document(i) for i in ids}
    assert results[a]["chars"]["data"] == {"chars": 11} and results[a]["chars"]["model_version"] == "v1"
    assert results[c]["chars"]["data"] == {"chars": 5}
    assert results[b]["chars"]["data"] == {"chars": -1}  # the reviewed document is left alone
    # the step that fails now keeps its earlier result; the document stays done
    assert results[c]["boom"]["status"] == "ok" and results[c]["boom"]["data"] == {"earlier": True}
    assert store.query_one("SELECT last_error FROM jobs WHERE kind = 'repredict' AND step = 'boom'") == {
        "last_error": "ValueError: no good"
    }
    assert store.documents.get(c)["status"] == "done" and store.documents.get(c)["error"] is None
    assert store.jobs.counts() == {"done": 5, "failed": 1}


def test_new_documents_are_processed_before_reruns(setup) -> None:
    store, processor, tmp = setup
    (tmp / "a.txt").write_text("first")
    _take(store, processor, tmp / "a.txt")
    processor.process(store.jobs.claim())
    with store.transaction():
        store.jobs.queue_repredict("chars", limit=5)
    (tmp / "b.txt").write_text("second")
    new = _take(store, processor, tmp / "b.txt")
    job = store.jobs.claim()
    assert (job.kind, job.document_id) == ("process", new)


def test_hooks_a_stop_cut_short_run_at_the_next_start_and_rules_only_once(tmp_path: Path, monkeypatch) -> None:
    """A document stored but killed before its rules ran gets them at the next start; a rule that
    had already run for it is not run again."""
    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent(f"""
        data_dir = "{tmp_path / 'data'}"
        [pipelines.default]
        steps = []
        [[rules]]
        name = "tag-all"
        actions = [{{ type = "tag", tags = ["seen"] }}]
        [[rules]]
        name = "copy-all"
        actions = [{{ type = "copy", to = "{tmp_path / 'copies'}/{{{{ name }}}}" }}]
    """))
    settings = load_config(config)
    store = Store(settings.db_path)
    (tmp_path / "a.txt").write_text("hello there")
    (tmp_path / "b.txt").write_text("and again")
    with SandboxedExtractor(settings.extract, settings.blob_dir) as extractor:
        processor = Processor(store, settings, build_pipelines(settings), extractor)
        first = _take(store, processor, tmp_path / "a.txt")
        assert processor.process(store.jobs.claim()) == "done"  # hooks ran: nothing pending
        assert store.documents.hooks_pending() == []
        assert store.rule_runs.for_document(first)["copy-all"]["status"] == "applied"
        second = _take(store, processor, tmp_path / "b.txt")
        with monkeypatch.context() as m:  # the process dies between the commit and the hooks
            m.setattr(Processor, "_processed", lambda self, view: None)
            assert processor.process(store.jobs.claim()) == "done"
        assert store.documents.hooks_pending() == [second]
        assert store.rule_runs.for_document(second) == {} and not (tmp_path / "copies" / "b.txt").exists()
        store.rule_runs.record(second, "tag-all", "applied", {})  # this one had run before the stop

        restarted = Processor(store, settings, build_pipelines(settings), extractor)
        assert restarted.resume_hooks() == 1
    assert store.documents.hooks_pending() == []
    assert (tmp_path / "copies" / "b.txt").read_text() == "and again"
    assert store.tags.for_document(second) == []  # tag-all was not run a second time
    assert sorted(p.name for p in (tmp_path / "copies").iterdir()) == ["a.txt", "b.txt"]
    store.close()
