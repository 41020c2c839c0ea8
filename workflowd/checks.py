"""``workflowd check``: is everything in order for the daemon to start? Starts nothing.

Each check gives a ``Finding``: what it looked at (the config key), whether it is fine, and
what it found or what is wrong. Config and plugin problems (``config=True``) are those that
stop the daemon at start (CLI exit code 2); the others (a missing folder, an unset password
variable, a model not found) exit with 1.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .alerts.settings import NotifierSettings, NtfyNotifier, WebhookNotifier
from .config import FolderSourceSettings, ImapSourceSettings, MaildirSourceSettings, Settings, load_config
from .errors import ConfigError, ModelError, PluginError, WorkflowdError
from .plugins import check_trusted
from .privacy import loose_permissions
from .rules.settings import root_of
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
    findings += list(_rules(settings))
    for name, notifier in settings.notifiers.items():
        findings.append(_notifier(name, notifier))
    findings.append(_ocr(settings))
    findings.append(_data_dir(settings.data_dir))
    return findings


def _ocr(settings: Settings) -> Finding:
    """Tesseract and the language data of ``ocr.languages``; a missing one fails only scans."""
    from .extract.ocr import check_tesseract

    conf = settings.ocr
    if not conf.enabled:
        return Finding("ocr", True, "off: images and PDF pages without a text layer are not read")
    problem = check_tesseract(conf)
    if problem:
        return Finding("ocr", False, problem)
    return Finding("ocr", True, f"Tesseract found, languages {conf.languages}, {conf.dpi} dpi, up to {conf.max_pages} pages")


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


# The step whose result a rule condition reads.
_CONDITION_STEPS = {
    "label": "classify", "labelled": "classify", "min_confidence": "classify", "entity": "entities",
    "sentiment": "sentiment", "min_sentiment_score": "sentiment", "max_sentiment_score": "sentiment",
}


def _rules(settings: Settings) -> Iterator[Finding]:
    """A rule whose condition reads a step no pipeline runs never matches; a move/copy root must be usable."""
    steps = {s for p in settings.pipelines.values() for s in p.steps}
    for i, rule in enumerate(settings.rules):
        key = f"rules[{i}] ({rule.name})"
        unmet = sorted({step for cond, step in _CONDITION_STEPS.items()
                        if getattr(rule.when, cond) is not None and step not in steps})
        if unmet:
            yield Finding(key, False, f"its conditions read the {', '.join(unmet)} step(s), which no pipeline runs: "
                          "it never matches")
            continue
        problems = []
        for action in rule.actions:
            if action.type in ("move", "copy"):
                root = Path(root_of(action.to)).expanduser()
                there = next((p for p in (root, *root.parents) if p.exists()), None)
                if there is None or not there.is_dir() or not os.access(there, os.W_OK | os.X_OK):
                    problems.append(f"{action.type} target folder {root} cannot be created or written")
        if problems:
            yield Finding(key, False, "; ".join(problems))
        else:
            what = ", ".join(a.type for a in rule.actions)
            yield Finding(key, True, f"{what}{'' if rule.enabled else ' (disabled)'}")


def _notifier(name: str, notifier: NotifierSettings) -> Finding:
    key = f"notifiers.{name}"
    try:
        if isinstance(notifier, WebhookNotifier):
            signed = "signed" if notifier.secret(name) else "unsigned (no secret_env or secret_file)"
            return Finding(key, True, f"webhook {notifier.url}, {signed}")
        if isinstance(notifier, NtfyNotifier):
            token = notifier.token(name)
            return Finding(key, True, f"ntfy {notifier.url}{', with a token' if token else ''}")
        if importlib.util.find_spec("apprise") is None:
            return Finding(key, False, "apprise is not installed: pip install 'workflowd[apprise]'")
        urls = notifier.all_urls(name)
        if not urls:
            return Finding(key, False, "no Apprise URL (urls, urls_env, urls_file are empty)")
        return Finding(key, True, f"apprise, {len(urls)} URL(s)")
    except ConfigError as exc:
        return Finding(key, False, str(exc))


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
