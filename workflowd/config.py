"""Configuration: a TOML file overridden by ``WORKFLOWD_*`` environment variables.

Every key has a default, so an empty file (or no file) is a valid config.
``config.example.toml`` documents every key; ``tests/test_config.py`` keeps the two in step.
Nested keys are set from the environment with ``__`` between levels, for example
``WORKFLOWD_DAEMON__RESCAN_INTERVAL=60`` or ``WORKFLOWD_DATA_DIR=/srv/workflowd``.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from . import paths
from .alerts.settings import (
    NOTIFIER_MODELS,
    DeliverySettings,
    NotifierSettings,
    SurgeSettings,
    resolve_notifier_paths,
)
from .errors import ConfigError
from .rules.settings import ACTION_MODELS, RuleSettings
from .tagged import type_union

ENV_PREFIX = "WORKFLOWD_"
CONFIG_ENV = "WORKFLOWD_CONFIG"

DEFAULT_STEPS: list[str] = ["classify", "entities", "summarize", "sentiment"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DaemonSettings(_Section):
    rescan_interval: float = Field(300.0, gt=0, description="seconds between full rescans of watched folders")
    stop_timeout: float = Field(30.0, ge=0, description="seconds `stop` waits for the current job before re-queueing it")


class JobSettings(_Section):
    max_attempts: int = Field(3, ge=1, description="tries before a job is marked failed")
    retry_delay: float = Field(30.0, ge=0, description="seconds before the first retry; doubled on each further try")
    retry_delay_max: float = Field(3600.0, ge=0, description="upper bound of the retry delay")


class ExtractSettings(_Section):
    max_file_mb: float = Field(100.0, gt=0, description="files larger than this fail without being read")
    timeout: float = Field(60.0, gt=0, description="seconds one file's extraction may take")
    max_memory_mb: int = Field(2048, ge=64, description="address-space limit of the extractor process")
    max_text_chars: int = Field(2_000_000, ge=1000, description="extracted text is cut at this length")
    max_attachments: int = Field(100, ge=0, description="attachments taken from one e-mail")
    max_pdf_pages: int = Field(2000, ge=1, description="pages read from one PDF")


class OcrSettings(_Section):
    enabled: bool = Field(True, description="read images and PDF pages without a text layer with Tesseract")
    languages: str = Field("eng", description='Tesseract languages joined by "+", e.g. "deu+eng"')
    dpi: int = Field(300, ge=70, le=1200, description="the most a scanned PDF page is drawn at (its scan's own, 150 at least); images that state none are taken at it")
    max_pages: int = Field(100, ge=1, description="pages OCRed in one file; the text says where it stopped")
    timeout: float = Field(600.0, gt=0, description="seconds of OCR one file may take, on top of extract.timeout")
    min_page_chars: int = Field(20, ge=0, description="a PDF page whose text layer has fewer characters is OCRed")
    max_image_pixels: int = Field(50_000_000, ge=1_000_000, description="larger images and pages are scaled down to this")
    deskew: bool = Field(True, description="straighten pages tilted by up to 20 degrees before OCR")
    binarize: Literal["auto", "sauvola", "otsu"] = Field(
        "auto", description="how Tesseract separates ink from paper: otsu (one threshold per page, "
                            "Tesseract's own default), sauvola (local thresholds, for photos with "
                            "shadows), or auto (sauvola for a page in uneven light, else otsu)")
    tesseract: str = Field("tesseract", description="the tesseract program: a name on PATH or a path")

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: str) -> str:
        parts = [p.strip() for p in value.split("+")]
        if not all(parts) or not all(p.replace("_", "").replace("-", "").isalnum() for p in parts):
            raise ValueError(f'ocr.languages must be Tesseract language codes joined by "+" (e.g. "deu+eng"), not {value!r}')
        return "+".join(parts)


class ModelSettings(_Section):
    base: str = Field("bundled", description="the encoder: bundled, a local folder, or a Hugging Face id")
    device: str = Field("auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:1...")
    threads: int = Field(0, ge=0, description="CPU threads for torch or ONNX Runtime; 0: all cores")
    batch_size: int = Field(16, ge=1, description="windows per forward pass")
    max_tokens: int = Field(256, ge=16, le=8192, description="tokens per window, special tokens included")
    chunk_overlap: int = Field(32, ge=0, description="tokens shared by consecutive windows")
    max_chunks: int = Field(8, ge=1, description="windows read for a document's embedding")
    batch_documents: int = Field(32, ge=1, description="queued documents the worker encodes together")
    runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="auto (ONNX Runtime on the CPU when installed, torch on CUDA), torch, onnx"
    )
    quantize: Literal["none", "int8"] = Field("none", description="none, or int8 (ONNX Runtime only; less accurate)")
    onnx_cache: Path | None = Field(
        None, description="where graphs exported for ONNX Runtime are kept; default <data_dir>/cache/onnx"
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> ModelSettings:
        if self.chunk_overlap >= self.max_tokens - 2:
            raise ValueError("model.chunk_overlap must be smaller than model.max_tokens - 2")
        if self.quantize != "none" and self.runtime == "torch":
            raise ValueError(f'model.quantize = "{self.quantize}" needs runtime = "onnx" or "auto" (ONNX Runtime)')
        return self


class FolderSourceSettings(_Section):
    type: Literal["folder"] = "folder"
    name: str = ""
    path: Path
    recursive: bool = True
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)
    settle_delay: float = Field(2.0, ge=0)
    follow_symlinks: bool = False  # take files that links lead to outside the folder
    pipeline: str = "default"

    def resolve(self, base: Path) -> None:
        self.path = paths.expand(self.path, base)
        if not self.name:
            self.name = f"folder:{self.path}"


class MaildirSourceSettings(_Section):
    type: Literal["maildir"]
    name: str = ""
    path: Path
    include_cur: bool = False
    mark_seen: bool = False
    pipeline: str = "default"

    def resolve(self, base: Path) -> None:
        self.path = paths.expand(self.path, base)
        if not self.name:
            self.name = f"maildir:{self.path}"


class ImapSourceSettings(_Section):
    type: Literal["imap"]
    name: str = ""
    host: str
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    allow_plaintext: bool = False  # security = "none" to a host that is not loopback
    ca_file: Path | None = None
    username: str
    password_env: str | None = None
    password_file: Path | None = None
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    search_from: str | None = None
    search_subject: str | None = None
    search_since: date | None = None
    idle: bool = True
    poll_interval: float = Field(300.0, gt=0)
    timeout: float = Field(60.0, gt=0)
    retry_delay_max: float = Field(300.0, gt=0)
    mark_seen: bool = False
    flag: bool = False
    move_to: str | None = None
    pipeline: str = "default"

    @model_validator(mode="after")
    def _one_password_source(self) -> ImapSourceSettings:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("set exactly one of password_env (a variable's name) and password_file")
        if self.move_to is not None and self.move_to in self.folders:
            raise ValueError(f"move_to {self.move_to!r} is one of the folders read")
        if self.security == "none" and not self.allow_plaintext and not is_loopback(self.host):
            raise ValueError(
                f'security = "none" would send the password unencrypted to {self.host}; it is allowed '
                'only to a loopback host (127.0.0.1, ::1, localhost) unless allow_plaintext = true'
            )
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    def password(self) -> SecretStr:
        """The password, read now from the variable or file; raises ConfigError when unset."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                raise ConfigError(f"IMAP source {self.name}: environment variable {self.password_env} is not set")
            return SecretStr(value)
        assert self.password_file is not None
        try:
            return SecretStr(self.password_file.read_text(encoding="utf-8").rstrip("\r\n"))
        except OSError as exc:
            raise ConfigError(f"IMAP source {self.name}: cannot read password_file {self.password_file}: "
                              f"{exc.strerror}") from None

    def resolve(self, base: Path) -> None:
        if self.password_file is not None:
            self.password_file = paths.expand(self.password_file, base)
        if self.ca_file is not None:
            self.ca_file = paths.expand(self.ca_file, base)
        if not self.name:
            self.name = f"imap:{self.username}@{self.host}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface (by address or RFC 6761 name),
    without asking DNS."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


SOURCE_MODELS: dict[str, type[BaseModel]] = {
    "folder": FolderSourceSettings,
    "maildir": MaildirSourceSettings,
    "imap": ImapSourceSettings,
}
SourceSettings = type_union(SOURCE_MODELS, what="source", default="folder")


class TrainingSettings(_Section):
    schedule: str = Field("0 3 * * *", description="cron schedule of retraining from corrections; empty: never")
    min_new_corrections: int = Field(
        20, ge=0, description="retrain as soon as this many new corrections have arrived; 0: only on schedule"
    )
    nice: int = Field(10, ge=0, le=19, description="CPU priority of the training process (higher: lower)")
    min_held_out: int = Field(
        5, ge=1,
        description="a retrained model is called better only when measured on at least this many corrections "
        "it was not trained on",
    )
    significance: float = Field(
        0.1, gt=0.0, le=1.0,
        description="a retrained model is better (promoted) or worse (rejected) only when a sign test on the "
        "examples where the two models differ says so at this level (small sets are noisy); 1: any "
        "difference counts",
    )
    margin: float = Field(
        0.0, ge=0.0, le=1.0,
        description="a retrained model is rejected when its score is more than this much below the model "
        "in use's, on held-out corrections or on the validation data",
    )
    drift: float = Field(
        0.05, ge=0.0, le=1.0,
        description="classify: a retrained model may change at most this share of the confident answers the "
        "model in use gives on documents nobody corrected, in labels no correction names",
    )
    replay: int = Field(
        1000, ge=0,
        description="examples of what the model in use knew, replayed beside the corrections in each retrain",
    )
    replay_data: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per task, the files of its original training data to replay a sample of (else, for "
        "the tasks of pseudo_rehearsal, the model in use's answers on uncorrected documents)",
    )
    pseudo_rehearsal: list[str] = Field(
        default_factory=lambda: ["sentiment", "summarize"],
        description="tasks that, without replay_data, replay the model in use's own answers on "
        "uncorrected documents (measured: it keeps sentiment, it does not help entities)",
    )
    validation_data: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per task, files of validation data both models are scored on before a promotion",
    )
    repredict: int = Field(
        5000, ge=0,
        description="when a new model is put in use, re-run its step on up to this many of the newest "
        "documents not yet reviewed for it; 0: never",
    )


    @field_validator("replay_data", "validation_data", mode="before")
    @classmethod
    def _task_files(cls, v: Any) -> Any:
        """A file or a list of files per task (the task names are checked against the tasks
        plugins register, when the pipelines are built)."""
        if not isinstance(v, dict):
            return v
        return {k: [files] if isinstance(files, str) else files for k, files in v.items()}

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        if v.strip():
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v.strip())
            except ValueError as exc:
                raise ValueError(f"not a cron schedule (minute hour day month weekday): {exc}") from None
        return v.strip()


class PipelineSettings(_Section):
    steps: list[str] = Field(default_factory=list)


def _default_sources() -> list[FolderSourceSettings]:
    return [FolderSourceSettings(path=paths.default_inbox())]


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class WebSettings(_Section):
    enabled: bool = Field(True, description="serve the web page and the JSON API from the daemon")
    host: str = Field("127.0.0.1", description="address to listen on; loopback unless allow_remote")
    port: int = Field(8470, ge=0, le=65535, description="TCP port; 0: any free one (status says which)")
    allow_remote: bool = Field(
        False, description="allow a host other than loopback: other machines then reach the page (token still needed)"
    )

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> WebSettings:
        if self.host not in LOOPBACK_HOSTS and not self.allow_remote:
            raise ValueError(
                f"web.host = {self.host!r} is not a loopback address: other machines could reach the page; "
                "set web.allow_remote = true if that is what you want"
            )
        return self


class Settings(BaseSettings):
    """The whole configuration. Field order here is the order of config.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    data_dir: Path = Field(default_factory=paths.data_home)
    plugins_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    sources: list[SourceSettings] = Field(default_factory=_default_sources)
    pipelines: dict[str, PipelineSettings] = Field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: list[RuleSettings] = Field(default_factory=list)
    surges: list[SurgeSettings] = Field(default_factory=list)
    notifiers: dict[str, NotifierSettings] = Field(default_factory=dict)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    _file: Path | None = PrivateAttr(default=None)

    @property
    def file(self) -> Path | None:
        """The config file these settings were read from, if any."""
        return self._file

    @property
    def db_path(self) -> Path:
        return self.data_dir / "workflowd.db"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "workflowd.log"

    @property
    def web_token_path(self) -> Path:
        """The web page's secret (0600): `workflowd open` turns it into a login link."""
        return self.data_dir / "web-token"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "workflowd.pid"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def onnx_cache_dir(self) -> Path:
        """The encoder's and branches' graphs exported for ONNX Runtime (rebuilt when missing)."""
        return self.model.onnx_cache or self.data_dir / "cache" / "onnx"

    def resolve_paths(self, base: Path) -> None:
        """Make every path absolute: ``~`` expanded, relative paths taken from ``base``."""
        self.data_dir = paths.expand(self.data_dir, base)
        if self.model.onnx_cache is not None:
            self.model.onnx_cache = paths.expand(self.model.onnx_cache, base)
        if self.plugins_dir is not None:
            self.plugins_dir = paths.expand(self.plugins_dir, base)
        for source in self.sources:
            source.resolve(base)
        resolve_notifier_paths(self.notifiers, base)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _sources_name_known_pipelines(self) -> Settings:
        for i, source in enumerate(self.sources):
            if source.pipeline not in self.pipelines:
                known = ", ".join(sorted(self.pipelines))
                raise ValueError(
                    f"sources[{i}].pipeline: unknown pipeline {source.pipeline!r}; defined pipelines: {known}"
                )
        return self

    @model_validator(mode="after")
    def _outputs_name_known_things(self) -> Settings:
        for kind, items in (("rules", self.rules), ("surges", self.surges)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.name in seen:
                    raise ValueError(f"{kind}[{i}].name: {item.name!r} is used twice; each needs its own name")
                seen.add(item.name)
        known = ", ".join(sorted(self.notifiers)) or "none (add a [notifiers.NAME] table)"
        wanted = [(f"rules[{i}].actions[{j}].to", a.to) for i, r in enumerate(self.rules)
                  for j, a in enumerate(r.actions) if a.type == "notify"]
        wanted += [(f"surges[{i}].notify", s.notify) for i, s in enumerate(self.surges)]
        for where, names in wanted:
            for name in names:
                if name not in self.notifiers:
                    raise ValueError(f"{where}: unknown notifier {name!r}; defined notifiers: {known}")
        return self

    @field_validator("pipelines", mode="after")
    @classmethod
    def _keep_default_pipeline(cls, v: dict[str, PipelineSettings]) -> dict[str, PipelineSettings]:
        if "default" not in v:
            v = {"default": PipelineSettings(steps=list(DEFAULT_STEPS)), **v}
        return v


class _FileOnlySettings(Settings):
    """Settings read from the file alone, ignoring the environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def config_path(explicit: str | Path | None = None) -> tuple[Path, bool]:
    """Return the config file to use and whether the user named it (flag or variable)."""
    named = explicit or os.environ.get(CONFIG_ENV)
    if named:
        return paths.expand(named), True
    return paths.default_config_path(), False


def load_config(explicit: str | Path | None = None) -> Settings:
    """Load the config file (if any) and the environment; raise ConfigError on any problem."""
    path, named = config_path(explicit)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}", path=str(path)) from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}", path=str(path)) from None
    elif named:
        raise ConfigError(f"config file not found: {path}", path=str(path))

    # Validate the file alone first, so that its mistakes are reported against the file.
    try:
        _FileOnlySettings(**data)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid config file {path}:", path=str(path), problems=describe_errors(exc)
        ) from None
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems = [f"{_env_name(_untagged(e['loc']))}: {_message(e, Settings)}" for e in exc.errors()]
        raise ConfigError("invalid configuration in environment variables:", problems=problems) from None
    settings._file = path if path.exists() else None
    settings.resolve_paths(path.parent if settings._file else Path.cwd())
    return settings


def describe_errors(exc: ValidationError, root: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """One readable line per validation error: the key (after ``prefix``), then the reason."""
    lines = []
    for e in exc.errors():
        loc = _untagged(e["loc"])
        where = f"{prefix}{format_loc(loc)}: " if loc else (f"{prefix.rstrip('.')}: " if prefix else "")
        lines.append(f"{where}{_message(e, root or Settings)}")
    return lines


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _untagged(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location without the union tag pydantic puts after ``sources[i]``."""
    if len(loc) > 2 and loc[0] == "sources" and isinstance(loc[1], int) and loc[2] in SOURCE_MODELS:
        return loc[:2] + loc[3:]
    if len(loc) > 4 and loc[0] == "rules" and loc[2] == "actions" and loc[4] in ACTION_MODELS:
        return loc[:4] + loc[5:]
    if len(loc) > 2 and loc[0] == "notifiers" and loc[2] in NOTIFIER_MODELS:
        return loc[:2] + loc[3:]
    return loc


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(p).upper() for p in loc if not isinstance(p, int))


def _message(error: Any, root: type[BaseModel]) -> str:
    if error["type"] == "extra_forbidden":
        key = error["loc"][-1]
        hint = _suggest(str(key), error["loc"][:-1], root)
        return f"unknown key {key!r}{hint}"
    if error["type"] == "missing":
        return "required key is missing"
    msg = error["msg"]
    if error["type"] == "value_error":
        return msg.removeprefix("Value error, ")
    if "input" in error:
        msg += f" (got {error['input']!r})"
    return msg


def _suggest(key: str, parent: tuple[Any, ...], root: type[BaseModel]) -> str:
    model: Any = root
    for part in parent:
        tagged = {**SOURCE_MODELS, **ACTION_MODELS, **NOTIFIER_MODELS}
        if isinstance(part, str) and part in tagged:
            model = tagged[part]  # the tag of a source's, an action's or a notifier's type
            continue
        if isinstance(part, int) or model is None:
            continue
        field = getattr(model, "model_fields", {}).get(part)
        model = _model_of(field.annotation) if field else None
    names = list(getattr(model, "model_fields", {}) or {})
    close = difflib.get_close_matches(key, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):  # list[Model], dict[str, Model], Model | None
        found = _model_of(arg)
        if found is not None:
            return found
    return None
