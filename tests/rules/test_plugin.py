"""The built-in hook: the rules run after a document is stored, before other hooks, and never
raise into the worker."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from tests.conftest import write_steps_plugin
from workflowd.config import load_config
from workflowd.extract import SandboxedExtractor
from workflowd.intake import take_file
from workflowd.pipeline import Document
from workflowd.plugins import DEFAULT_PLUGINS
from workflowd.processing import Processor
from workflowd.rules import plugin
from workflowd.runtime import build_pipelines
from workflowd.store import Store

AFTER_RULES = '''
import json
from pathlib import Path

from workflowd import hookimpl


@hookimpl
def document_processed(document, store):
    Path(__file__).with_name("tags.json").write_text(json.dumps(store.tags.for_document(document.id)))
'''


def test_rules_run_when_a_document_is_processed_before_other_hooks(tmp_path: Path) -> None:
    plugins = write_steps_plugin(tmp_path / "plugins")
    (plugins / "after_rules.py").write_text(AFTER_RULES)
    (plugins / "after_rules.py").chmod(0o644)
    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent(f"""
        data_dir = "{tmp_path / 'data'}"
        plugins_dir = "{plugins}"
        [pipelines.default]
        steps = ["chars"]
        [[rules]]
        name = "tag"
        actions = [{{ type = "tag", tags = ["seen-{{{{ results.chars.chars }}}}"] }}]
        [[rules]]
        name = "broken"
        actions = [{{ type = "run", argv = ["/nonexistent/program"] }}]
        [[rules]]
        name = "copy"
        actions = [{{ type = "copy", to = "{tmp_path}/out/{{{{ name }}}}" }}]
    """))
    settings = load_config(config)
    assert "workflowd.rules.plugin" in DEFAULT_PLUGINS
    (tmp_path / "a.txt").write_text("hello there")
    store = Store(settings.db_path)
    try:
        with SandboxedExtractor(settings.extract, settings.blob_dir) as extractor:
            processor = Processor(store, settings, build_pipelines(settings), extractor)
            doc_id, _ = take_file(store, settings, tmp_path / "a.txt", source="test", pipeline="default")
            assert processor.process(store.jobs.claim()) == "done"
        assert (plugins / "tags.json").read_text() == '["seen-11"]'  # the rules ran first
        runs = store.rule_runs.for_document(doc_id)
        assert {k: v["status"] for k, v in runs.items()} == {"tag": "applied", "broken": "failed", "copy": "applied"}
        assert (tmp_path / "out" / "a.txt").read_text() == "hello there"
        assert store.documents.get(doc_id)["status"] == "done"
        assert store.results.for_document(doc_id)["chars"]["data"] == {"chars": 11}
    finally:
        store.close()


def test_the_hook_logs_and_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_config_with_rule(tmp_path)
    store = Store(settings.db_path)
    try:
        with caplog.at_level(logging.ERROR, logger="workflowd.rules"):
            plugin.document_processed(document=Document(id=999, text=""), results={}, store=store, settings=settings)
        assert "rules could not run on document 999" in caplog.text
    finally:
        store.close()


def load_config_with_rule(tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[[rules]]\nname = "t"\n'
                      'actions = [{ type = "tag", tags = ["x"] }]\n')
    return load_config(config)
