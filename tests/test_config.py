"""config.example.toml documents every key; typos and wrong types name the file and the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.conftest import REPO, Env
from workflowd.alerts.settings import NOTIFIER_MODELS, SurgeSettings
from workflowd.config import SOURCE_MODELS, Settings, load_config
from workflowd.errors import ConfigError
from workflowd.rules.settings import ACTION_MODELS, RuleSettings, When

EXAMPLE = REPO / "config.example.toml"


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys |= _model_keys(ann, f"{prefix}{name}.")
    return keys


def _documented_keys(text: str) -> set[str]:
    """Keys set or shown commented-out (``# key = ...``) in the example, with their table."""
    keys, table = set(), ""
    for line in text.splitlines():
        m = re.match(r"^\s*(?:#\s*)?\[\[?([\w.]+)\]\]?\s*$", line)
        if m:
            table = m.group(1)
            if table.startswith(("sources", "notifiers.")):
                table = table.split(".")[0]
            keys.add(table)
            continue
        m = re.match(r"^\s*(?:#\s*)*([A-Za-z_]\w*)\s*=", line)
        if m:
            keys.add(f"{table}.{m.group(1)}" if table else m.group(1))
    return keys


def test_example_config_loads_and_keeps_the_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    settings = load_config(EXAMPLE)
    defaults = Settings()
    for section in ("daemon", "jobs", "extract"):
        assert getattr(settings, section) == getattr(defaults, section), section
    assert settings.log_level == defaults.log_level
    assert settings.data_dir == tmp_path / ".local/share/workflowd"
    assert [s.path for s in settings.sources] == [tmp_path / "workflowd/inbox"]


def test_example_config_documents_every_key() -> None:
    documented = _documented_keys(EXAMPLE.read_text())
    expected = _model_keys(Settings) | {f"sources.{k}" for m in SOURCE_MODELS.values() for k in m.model_fields}
    expected -= {"pipelines", "steps"}  # free-form tables, shown by example
    missing = sorted(expected - documented)
    assert not missing, f"keys missing from config.example.toml: {missing}"
    assert "pipelines.default.steps" in documented


def test_example_config_documents_rules_surges_and_notifiers() -> None:
    """Every key of a rule, its conditions and actions, a surge and each notifier type is shown."""
    documented = _documented_keys(EXAMPLE.read_text())
    text = EXAMPLE.read_text()
    expected = {f"rules.{k}" for k in RuleSettings.model_fields} | {f"rules.{k}" for k in When.model_fields}
    expected |= {f"surges.{k}" for k in SurgeSettings.model_fields}
    expected |= {f"notifiers.{k}" for m in NOTIFIER_MODELS.values() for k in m.model_fields}
    missing = sorted(expected - documented)
    assert not missing, f"keys missing from config.example.toml: {missing}"
    for name, model in ACTION_MODELS.items():
        for key in model.model_fields:
            assert re.search(rf"\b{key} = ", text), f"action {name}'s key {key} is not shown in config.example.toml"


def test_empty_file_and_one_table_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("")
    assert load_config(path).daemon.rescan_interval == 300
    path.write_text("[jobs]\nmax_attempts = 5\n")
    settings = load_config(path)
    assert settings.jobs.max_attempts == 5
    assert list(settings.pipelines) == ["default"]


def test_typo_names_file_key_and_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\npath = "x"\nrecursve = false\n[daemon]\nrescan_interval = "often"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text
    assert "sources[0].recursve: unknown key 'recursve' (did you mean 'recursive'?)" in text
    assert "daemon.rescan_interval" in text and "'often'" in text


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[daemon\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_config(path)


def test_unknown_pipeline_in_source(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\npath = "x"\npipeline = "mail"\n')
    with pytest.raises(ConfigError, match=r"sources\[0\]\.pipeline: unknown pipeline 'mail'; defined pipelines: default"):
        load_config(path)


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[daemon]\nrescan_interval = 10\n")
    monkeypatch.setenv("WORKFLOWD_DAEMON__RESCAN_INTERVAL", "42")
    monkeypatch.setenv("WORKFLOWD_DATA_DIR", str(tmp_path / "d"))
    settings = load_config(path)
    assert settings.daemon.rescan_interval == 42
    assert settings.data_dir == tmp_path / "d"
    monkeypatch.setenv("WORKFLOWD_JOBS__MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigError, match="WORKFLOWD_JOBS__MAX_ATTEMPTS"):
        load_config(path)


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "c.toml"
    path.write_text('data_dir = "data"\n[[sources]]\npath = "../inbox"\n')
    settings = load_config(path)
    assert settings.data_dir == tmp_path / "conf" / "data"
    assert settings.sources[0].path == tmp_path / "conf" / ".." / "inbox"
    assert settings.sources[0].name == f"folder:{tmp_path / 'conf' / '..' / 'inbox'}"


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_exit_code_2_on_config_error(wf_env: Env) -> None:
    wf_env.write_config('[daemon]\nrescan_intervall = 5\n')
    proc = wf_env.run("status", check=False)
    assert proc.returncode == 2
    assert str(wf_env.config) in proc.stderr
    assert "daemon.rescan_intervall: unknown key" in proc.stderr
    assert "did you mean 'rescan_interval'" in proc.stderr


def test_example_parses_as_toml() -> None:
    tomllib.loads(EXAMPLE.read_text())


def test_example_step_settings_are_the_defaults() -> None:
    from workflowd.tasks.classify import ClassifySettings

    example = tomllib.loads(EXAMPLE.read_text())
    assert ClassifySettings.model_validate(example["steps"]["classify"]) == ClassifySettings()
    assert set(example["steps"]["classify"]) == set(ClassifySettings.model_fields)
    assert example["pipelines"]["default"]["steps"] == Settings().pipelines["default"].steps
    from workflowd.tasks.entities import EntitiesSettings

    assert EntitiesSettings.model_validate(example["steps"]["entities"]) == EntitiesSettings()
    documented = _documented_keys(EXAMPLE.read_text())
    assert {f"steps.entities.{k}" for k in EntitiesSettings.model_fields} <= documented
    from workflowd.tasks.summarize import SummarizeSettings

    assert SummarizeSettings.model_validate(example["steps"]["summarize"]) == SummarizeSettings()
    assert set(example["steps"]["summarize"]) == set(SummarizeSettings.model_fields)


def test_mail_sources_are_validated_by_type(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[sources]]\ntype = "maildir"\npath = "~/Maildir"\nmark_sen = true\n'
        '[[sources]]\ntype = "imap"\nhots = "x"\nusername = "me"\n'
        '[[sources]]\ntype = "pop3"\npath = "x"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "sources[0].mark_sen: unknown key 'mark_sen' (did you mean 'mark_seen'?)" in text
    assert "sources[1].hots: unknown key 'hots' (did you mean 'host'?)" in text
    assert "sources[1].host: required key is missing" in text
    assert "sources[2]: type must be one of folder, maildir, imap" in text


def test_imap_password_comes_from_exactly_one_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    imap = '[[sources]]\ntype = "imap"\nhost = "mail.example.com"\nusername = "me"\n'
    path.write_text(imap)
    with pytest.raises(ConfigError, match="set exactly one of password_env .* and password_file"):
        load_config(path)
    path.write_text(imap + 'password_env = "MY_IMAP_PASSWORD"\n')
    source = load_config(path).sources[0]
    assert source.name == "imap:me@mail.example.com" and source.effective_port == 993
    monkeypatch.delenv("MY_IMAP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="environment variable MY_IMAP_PASSWORD is not set"):
        source.password()
    monkeypatch.setenv("MY_IMAP_PASSWORD", "s3cret")
    secret = source.password()
    assert secret.get_secret_value() == "s3cret" and "s3cret" not in repr(secret)
    (tmp_path / "pw").write_text("from-file\n")
    path.write_text(imap + 'password_file = "pw"\nsecurity = "starttls"\n')
    source = load_config(path).sources[0]
    assert source.password().get_secret_value() == "from-file" and source.effective_port == 143


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost", "LocalHost.",
                                  "mail.localhost"])
def test_plain_imap_is_allowed_to_loopback(tmp_path: Path, host: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[sources]]\ntype = "imap"\nhost = "{host}"\nusername = "me"\npassword_env = "P"\n'
                    'security = "none"\n')
    assert load_config(path).sources[0].security == "none"


@pytest.mark.parametrize("host", ["imap.example.com", "192.168.1.10", "10.0.0.1", "::ffff:8.8.8.8", "localhost.evil.com"])
def test_plain_imap_elsewhere_needs_allow_plaintext(tmp_path: Path, host: str) -> None:
    path = tmp_path / "c.toml"
    imap = f'[[sources]]\ntype = "imap"\nhost = "{host}"\nusername = "me"\npassword_env = "P"\nsecurity = "none"\n'
    path.write_text(imap)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "sources[0]: security = \"none\"" in text
    assert f"unencrypted to {host}" in text and "allow_plaintext = true" in text
    path.write_text(imap + "allow_plaintext = true\n")
    assert load_config(path).sources[0].allow_plaintext
    # TLS needs no such permission
    path.write_text(imap.replace('security = "none"', 'security = "starttls"'))
    assert load_config(path).sources[0].security == "starttls"


def test_readme_rules_example_is_a_valid_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's worked example of rules, surges and notifiers loads as written."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- rules-example -->")[1].split("<!-- /rules-example -->")[0]
    toml = block.split("```toml")[1].split("```")[0]
    config = tmp_path / "config.toml"
    config.write_text(toml)
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_config(config)
    assert [r.name for r in settings.rules] == ["file-invoices", "unsure"]
    assert settings.surges[0].scope == "source" and settings.surges[0].only == ["news"]
    assert set(settings.notifiers) == {"phone", "hook"}
    assert settings.sources[1].name == "news"
