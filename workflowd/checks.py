"""``workflowd check``: is everything in order for the daemon to start? Starts nothing.

Each check gives a ``Finding``: what it looked at (the config key), whether it is fine, and
what it found or what is wrong. Config and plugin problems (``config=True``) are those that
stop the daemon at start (CLI exit code 2); the others (a missing folder, an unset password
variable, a model not found) exit with 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import FolderSourceSettings, ImapSourceSettings, MaildirSourceSettings, Settings, load_config
from .errors import ConfigError, ModelError, PluginError, WorkflowdError
from .plugins import check_trusted
from .privacy import loose_permissions
from .runtime import build_pipelines, check_base_model, needs_base_model, step_registry


@dataclass(frozen=True)
class Finding:
    key: str  # what was checked: a config key ("sources[0]", "model.base") or "config"
    ok: bool
    detail: str
    config: bool = False  # a config or plugin problem: the daemon would not start (exit code 2)


def run_checks(config_arg: str | None) -> list[Finding]:
    """Every check, in order; a config that does not load stops at the first."""
    try:
        settings = load_config(config_arg)
    except ConfigError as exc:
        return [Finding("config", False, str(exc), config=True)]
    where = str(settings.file) if settings.file else "no file: the defaults and WORKFLOWD_* variables"
    findings = [Finding("config", True, where)]
    findings += _plugins_dir(settings)
    plugins_refused = any(not f.ok and f.config for f in findings)
    findings += list(_pipelines(settings, plugins_refused))
    for i, source in enumerate(settings.sources):
        findings.append(_source(f"sources[{i}]", source))
    findings += list(_training_files(settings))
    findings.append(_data_dir(settings.data_dir))
    return findings


def _training_files(settings: Settings) -> Iterator[Finding]:
    """The files retraining reads (replay_data, validation_data) must be there."""
    conf = settings.training
    for key, per_task in (("replay_data", conf.replay_data), ("validation_data", conf.validation_data)):
        for task, files in per_task.items():
            missing = [f for f in files if not Path(f).expanduser().is_file()]
            if missing:
                yield Finding(f"training.{key}.{task}", False, f"not a file: {', '.join(missing)}")
            else:
                yield Finding(f"training.{key}.{task}", True, f"{len(files)} file(s)")


def _plugins_dir(settings: Settings) -> list[Finding]:
    folder = settings.plugins_dir
    if folder is None:
        return []
    if not folder.is_dir():
        return [Finding("plugins_dir", False, f"{folder} is not a folder: no plugin file is loaded")]
    out = []
    for path, what in [(folder, "plugins folder")] + [
        (p, "plugin file") for p in sorted(folder.glob("*.py")) if not p.name.startswith(("_", "."))
    ]:
        try:
            check_trusted(path, what)
        except PluginError as exc:
            out.append(Finding("plugins_dir", False, str(exc), config=True))
        except OSError as exc:
            out.append(Finding("plugins_dir", False, f"{path}: {exc.strerror or exc}", config=True))
    if not out:
        out.append(Finding("plugins_dir", True, f"{folder}: yours, and writable by no one else"))
    return out


def _pipelines(settings: Settings, plugins_refused: bool) -> Iterator[Finding]:
    if plugins_refused:
        yield Finding("pipelines", False, "not built: a plugin file was refused (above)", config=True)
        return
    try:
        registry = step_registry(settings)
        pipelines = build_pipelines(settings, registry)
    except (ConfigError, PluginError) as exc:
        yield Finding("pipelines", False, str(exc), config=True)
        return
    except WorkflowdError as exc:  # a step that cannot load its model...
        yield Finding("pipelines", False, str(exc))
        return
    try:
        for pipeline in pipelines.pipelines.values():
            steps = [f"{n} ({registry.origin(n)})" for n in pipeline.step_names]
            yield Finding(f"pipelines.{pipeline.name}", True, ", ".join(steps) or "no steps (text only)")
        if not needs_base_model(pipelines):
            yield Finding("model.base", True, f"{settings.model.base}: not needed by the steps in use")
            return
        try:
            yield Finding("model.base", True, check_base_model(settings))
        except ModelError as exc:
            yield Finding("model.base", False, str(exc))
    finally:
        pipelines.close()


def _source(key: str, source: FolderSourceSettings | MaildirSourceSettings | ImapSourceSettings) -> Finding:
    if isinstance(source, ImapSourceSettings):
        return _imap(key, source)
    path = Path(source.path)
    if isinstance(source, MaildirSourceSettings):
        missing = [d for d in ("new", "cur", "tmp") if not (path / d).is_dir()]
        if missing:
            return Finding(key, False, f"Maildir {path} has no {', '.join(d + '/' for d in missing)}: not a Maildir")
        return Finding(key, True, f"Maildir {path}")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            return Finding(key, False, f"folder {path} cannot be read")
        links = "follows links out of it" if source.follow_symlinks else "links out of it are not followed"
        return Finding(key, True, f"folder {path} ({'recursive' if source.recursive else 'top level only'}; {links})")
    if path.exists():
        return Finding(key, False, f"{path} is not a folder")
    if path.parent.is_dir() and os.access(path.parent, os.W_OK | os.X_OK):
        return Finding(key, True, f"folder {path} does not exist yet; the daemon creates it at start")
    return Finding(key, False, f"folder {path} does not exist, nor can it be created (its parent is missing)")


def _imap(key: str, source: ImapSourceSettings) -> Finding:
    try:
        source.password()
    except ConfigError as exc:
        return Finding(key, False, str(exc))
    if source.ca_file is not None and not source.ca_file.is_file():
        return Finding(key, False, f"ca_file {source.ca_file} does not exist")
    plain = " (plain text: allow_plaintext = true)" if source.security == "none" and source.allow_plaintext else ""
    return Finding(
        key, True, f"IMAP {source.username}@{source.host}:{source.effective_port}, {source.security}{plain}; "
        f"password found ({'password_env ' + source.password_env if source.password_env else 'password_file'})"
    )


def _data_dir(data_dir: Path) -> Finding:
    try:
        loose = loose_permissions(data_dir)
    except OSError as exc:
        return Finding("data_dir", False, f"{data_dir} cannot be used: {exc.strerror or exc}")
    if loose is None:
        parent = next((p for p in data_dir.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            return Finding("data_dir", False, f"{data_dir} does not exist and cannot be created")
        return Finding("data_dir", True, f"{data_dir} does not exist yet; created private (0700) at start")
    if not data_dir.is_dir() or not os.access(data_dir, os.W_OK | os.X_OK):
        return Finding("data_dir", False, f"{data_dir} is not a folder workflowd can write to")
    if loose:
        return Finding("data_dir", True, f"{data_dir}: readable by others now; made private (0700) at start")
    return Finding("data_dir", True, f"{data_dir}: private")
