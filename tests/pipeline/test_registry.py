"""Steps from the package, entry points and the plugins folder register the same way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, write_steps_plugin
from workflowd.config import load_config
from workflowd.errors import ConfigError, PluginError, UnknownStepError
from workflowd.pipeline import Document, Step, StepRegistry, StepResult
from workflowd.plugins import plugin_manager
from workflowd.runtime import build_pipelines, step_registry

PLUGINS = REPO / "plugins"


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    """The repository's example plugins, in a folder only its owner may write (a checkout made
    under umask 002 is group-writable, and workflowd refuses such a plugins folder)."""
    folder = tmp_path / "example-plugins"
    folder.mkdir(mode=0o755)
    for path in PLUGINS.glob("*.py"):
        (folder / path.name).write_bytes(path.read_bytes())
        (folder / path.name).chmod(0o644)
    return folder


class Upper(Step):
    name = "upper"

    def run(self, doc: Document) -> StepResult:
        return StepResult({"upper": doc.text.upper()})


def test_unknown_step_lists_the_available_ones() -> None:
    registry = StepRegistry()
    registry.add(Upper, origin="test")
    with pytest.raises(UnknownStepError) as info:
        registry.get("uper", where="pipelines.default.steps")
    assert "unknown step 'uper' (in pipelines.default.steps). Available steps: upper" in str(info.value)


def test_duplicate_names_are_refused() -> None:
    registry = StepRegistry()
    registry.add(Upper, origin="a")

    class Other(Upper):
        pass

    with pytest.raises(PluginError, match="provided twice: by a and by b"):
        registry.add(Other, origin="b")


def test_not_a_step_is_refused() -> None:
    with pytest.raises(PluginError, match="not a Step subclass"):
        StepRegistry().add(dict, origin="x")  # type: ignore[arg-type]


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n' + textwrap.dedent(body))
    return path


def test_plugins_folder_example_step_runs(tmp_path: Path, plugins: Path) -> None:
    path = _config(tmp_path, f"""
        plugins_dir = "{plugins}"
        [pipelines.default]
        steps = ["rules"]
        [steps.rules.tags]
        tax = 'tax (return|office)'
        invoice = 'invoice'
    """)
    pipelines = build_pipelines(load_config(path))
    doc = Document(id=1, text="Your TAX RETURN for 2024 is due.", title="Letter")
    [outcome] = pipelines.get("default").run(doc)
    assert outcome.error is None
    assert outcome.result.data == {"tags": ["tax"], "matches": {"tax": "TAX RETURN"}}


def test_step_settings_are_validated_by_the_step(tmp_path: Path, plugins: Path) -> None:
    path = _config(tmp_path, f"""
        plugins_dir = "{plugins}"
        [pipelines.default]
        steps = ["rules"]
        [steps.rules]
        tagz = {{}}
    """)
    with pytest.raises(ConfigError) as info:
        build_pipelines(load_config(path))
    assert "steps.rules.tagz: unknown key 'tagz' (did you mean 'tags'?)" in str(info.value)
    assert str(path) in str(info.value)


def test_bad_regex_in_step_settings(tmp_path: Path, plugins: Path) -> None:
    path = _config(tmp_path, f"""
        plugins_dir = "{plugins}"
        [pipelines.default]
        steps = ["rules"]
        [steps.rules.tags]
        broken = '(unclosed'
    """)
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        build_pipelines(load_config(path))


def test_unknown_step_in_pipeline_and_in_steps_table(tmp_path: Path) -> None:
    path = _config(tmp_path, """
        [pipelines.default]
        steps = ["clasify"]
    """)
    with pytest.raises(UnknownStepError, match=r"unknown step 'clasify' \(in pipelines.default.steps"):
        build_pipelines(load_config(path))
    path = _config(tmp_path, """
        [steps.nope]
        x = 1
    """)
    with pytest.raises(UnknownStepError, match=r"\[steps.nope\]"):
        build_pipelines(load_config(path))


def test_broken_plugin_file_is_named(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text("def oops(:\n")
    with pytest.raises(PluginError, match=r"plugin file .*broken.py failed to load: SyntaxError"):
        plugin_manager(plugins)


def test_failing_step_fails_alone(tmp_path: Path) -> None:
    plugins = write_steps_plugin(tmp_path / "plugins")
    path = _config(tmp_path, f"""
        plugins_dir = "{plugins}"
        [pipelines.default]
        steps = ["boom", "chars"]
    """)
    outcomes = build_pipelines(load_config(path)).get("default").run(Document(id=1, text="hello"))
    assert outcomes[0].error == "ValueError: no good"
    assert outcomes[1].result.data == {"chars": 5}


def test_entry_point_plugins_are_loaded(tmp_path: Path) -> None:
    """A package installed with a ``workflowd`` entry point adds its steps like any other plugin."""
    site = tmp_path / "site"
    (site / "wf_extra").mkdir(parents=True)
    (site / "wf_extra" / "__init__.py").write_text(textwrap.dedent("""
        from workflowd import Step, StepResult, hookimpl

        class Words(Step):
            name = "words"
            def run(self, doc):
                return StepResult({"words": len(doc.text.split())})

        @hookimpl
        def register_steps():
            return [Words]
    """))
    dist = site / "wf_extra-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wf-extra\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[workflowd]\nextra = wf_extra\n")
    code = textwrap.dedent(f"""
        import json
        from workflowd.config import load_config
        from workflowd.runtime import step_registry
        reg = step_registry(load_config({str(_config(tmp_path, ''))!r}))
        print(json.dumps({{"names": reg.names(), "origin": reg.origin("words")}}))
    """)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert "words" in result["names"]
    assert result["origin"] == "extra"


HOOKS_PLUGIN = '''
import json
from pathlib import Path

from workflowd import hookimpl

SEEN = Path(__file__).with_name("seen.jsonl")


@hookimpl
def document_processed(document, results, store):
    row = store.documents.get(document.id)  # committed before the hook runs
    with SEEN.open("a") as fh:
        fh.write(json.dumps({"id": document.id, "status": row["status"], "steps": sorted(results),
                             "chars": results["chars"]["data"]["chars"]}) + "\\n")
'''
BROKEN_HOOK = '''
from workflowd import hookimpl


@hookimpl
def document_processed(document):
    raise RuntimeError("this hook is broken")
'''


def test_document_processed_runs_after_the_commit_and_a_failing_hook_fails_alone(tmp_path: Path) -> None:
    plugins = write_steps_plugin(tmp_path / "plugins")
    (plugins / "hooks.py").write_text(HOOKS_PLUGIN)
    (plugins / "broken_hook.py").write_text(BROKEN_HOOK)
    path = _config(tmp_path, f"""
        plugins_dir = "{plugins}"
        [pipelines.default]
        steps = ["chars"]
    """)
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"text of {name}")
    proc = subprocess.run([sys.executable, "-m", "workflowd", "--config", str(path), "ingest", "--json",
                           str(tmp_path / "a.txt"), str(tmp_path / "b.txt")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [d["status"] for d in json.loads(proc.stdout)] == ["done", "done"]
    seen = [json.loads(line) for line in (plugins / "seen.jsonl").read_text().splitlines()]
    assert seen == [{"id": 1, "status": "done", "steps": ["chars"], "chars": 13},
                    {"id": 2, "status": "done", "steps": ["chars"], "chars": 13}]
