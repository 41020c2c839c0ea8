"""Fixtures shared by every test: temp homes, configs, and the CLI run as a real process."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One folder of exported ONNX graphs for the whole run (they are keyed by the weights): each
# test's fresh data dir would otherwise export the encoder again (about 10 s).
ONNX_CACHE = Path(tempfile.mkdtemp(prefix="workflowd-test-onnx-"))
atexit.register(shutil.rmtree, ONNX_CACHE, True)
os.environ.setdefault("WORKFLOWD_MODEL__ONNX_CACHE", str(ONNX_CACHE))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public test data not found at {path} (../shared/data beside the repository)")
    return path


STEPS_PLUGIN = """\
from workflowd import Step, StepResult, hookimpl


class Boom(Step):
    name = "boom"

    def run(self, doc):
        raise ValueError("no good")


class Chars(Step):
    name = "chars"

    def run(self, doc):
        return StepResult({"chars": len(doc.text)}, confidence=0.5, model_version="v1", needs_review=True)


@hookimpl
def register_steps():
    return [Boom, Chars]
"""


def write_steps_plugin(folder: Path) -> Path:
    """A plugins folder with two test steps: ``boom`` (always raises) and ``chars``."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # workflowd refuses a plugins folder others may write to, whatever the umask
    (folder / "test_steps.py").write_text(STEPS_PLUGIN)
    (folder / "test_steps.py").chmod(0o644)
    return folder


@dataclass
class Env:
    """A throwaway user: home, config file, data dir and one watched folder."""

    root: Path
    home: Path
    config: Path
    data_dir: Path
    inbox: Path
    env: dict[str, str]

    def write_config(self, text: str) -> None:
        self.config.write_text(text, encoding="utf-8")

    def run(self, *args: str, check: bool = True, timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess:
        """Run ``workflowd ARGS`` as its own process, as a user would."""
        proc = subprocess.run(
            [sys.executable, "-m", "workflowd", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, **kw,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"workflowd {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
                + self.log_tail()
            )
        return proc

    def log_tail(self, lines: int = 40) -> str:
        """The end of the daemon's log, for a failure's message (what it was doing)."""
        log = self.data_dir / "logs" / "workflowd.log"
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return f"\nthe daemon's log ({log}), its end:\n" + "\n".join(text.splitlines()[-lines:])

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.run(*args, "--json", **kw).stdout)


def base_config(data_dir: Path, inbox: Path, extra: str = "") -> str:
    return f"""\
data_dir = {json.dumps(str(data_dir))}
[daemon]
rescan_interval = 3600
stop_timeout = 10
[jobs]
retry_delay = 0.5
[[sources]]
path = {json.dumps(str(inbox))}
settle_delay = 0.3
{extra}"""


@pytest.fixture(scope="session")
def encoder():  # noqa: ANN201
    """The real bundled encoder, loaded once for the whole test session."""
    from workflowd.config import ModelSettings
    from workflowd.models.encoder import Encoder

    return Encoder(ModelSettings())


def make_env(root: Path) -> Env:
    """A throwaway user under ``root``: another machine, as far as workflowd can tell."""
    home = root / "home"
    home.mkdir(parents=True)
    data_dir, inbox = root / "data", root / "inbox"
    inbox.mkdir()
    config = root / "config.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKFLOWD_")}
    env["WORKFLOWD_MODEL__ONNX_CACHE"] = os.environ["WORKFLOWD_MODEL__ONNX_CACHE"]
    env["WORKFLOWD_WEB__PORT"] = "0"  # each test daemon's page on a free port: no clash on 8470
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               WORKFLOWD_CONFIG=str(config), PYTHONUNBUFFERED="1")
    e = Env(root, home, config, data_dir, inbox, env)
    e.write_config(base_config(data_dir, inbox))
    return e


@pytest.fixture
def wf_env(tmp_path: Path) -> Iterator[Env]:
    e = make_env(tmp_path)
    env, data_dir = e.env, e.data_dir
    yield e
    # never leave a daemon behind
    pid_file = data_dir / "workflowd.pid"
    if pid_file.exists():
        subprocess.run([sys.executable, "-m", "workflowd", "stop"], env=env, capture_output=True, timeout=60)
