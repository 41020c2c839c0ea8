"""``workflowd init``."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

from .. import paths
from ..config import config_path, load_config
from ..errors import ConfigError
from ..web.auth import ensure_token
from .output import console

TEMPLATE = """\
# workflowd configuration, written by `workflowd init`.
# Every key, its default and its meaning are in config.example.toml in the workflowd
# repository; WORKFLOWD_* environment variables override keys (WORKFLOWD_DATA_DIR=...).

data_dir = {data_dir}
"""

SOURCE_TEMPLATE = """
[[sources]]
type = "folder"
path = {path}
pipeline = "default"
"""


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "init",
        parents=[common],
        help="write a config and create the data dir and a watched folder",
        description="Write a config file (unless one exists), create the data dir and the watched "
        "folder(s). With an existing config, --watch adds the folder to it.",
    )
    p.add_argument("--watch", metavar="DIR", action="append", type=Path,
                   help=f"a folder to watch (repeatable; default {paths.default_inbox()})")
    p.add_argument("--data-dir", metavar="DIR", type=Path, help=f"where the database, models and logs live "
                   f"(default {paths.data_home()})")
    p.add_argument("--force", action="store_true", help="overwrite an existing config file")
    p.set_defaults(func=cmd_init)


def _toml_str(value: Path | str) -> str:
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def cmd_init(args: argparse.Namespace) -> int:
    path, _named = config_path(getattr(args, "config", None))
    watch = [paths.expand(w) for w in (args.watch or [])]
    if path.exists() and not args.force:
        settings = load_config(path)
        watched = {s.path for s in settings.sources}
        added = [w for w in watch if w not in watched]
        if added:
            _append_sources(path, added)
            settings = load_config(path)
        if args.data_dir and paths.expand(args.data_dir) != settings.data_dir:
            console.print(f"note: {path} already sets data_dir = {settings.data_dir}; --data-dir ignored "
                          "(use --force to rewrite the config)", markup=False)
        action = f"added {', '.join(map(str, added))} to" if added else "kept"
        console.print(f"{action} the existing config {path}", markup=False)
    else:
        data_dir = paths.expand(args.data_dir) if args.data_dir else paths.data_home()
        text = TEMPLATE.format(data_dir=_toml_str(data_dir))
        for folder in watch or [paths.default_inbox()]:
            text += SOURCE_TEMPLATE.format(path=_toml_str(folder))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        settings = load_config(path)
        console.print(f"wrote {path}", markup=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_token(settings.web_token_path)  # the web page's secret, 0600 (`workflowd open`)
    for source in settings.sources:
        Path(source.path).mkdir(parents=True, exist_ok=True)
    console.print(f"data dir: {settings.data_dir}", markup=False)
    for source in settings.sources:
        console.print(f"watching: {source.path}", markup=False)
    console.print("next: `workflowd start`, then drop files into a watched folder", markup=False)
    return 0


def _append_sources(path: Path, folders: list[Path]) -> None:
    original = path.read_text(encoding="utf-8")
    text = original.rstrip("\n") + "\n" + "".join(SOURCE_TEMPLATE.format(path=_toml_str(f)) for f in folders)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot add a [[sources]] table to {path} ({exc}); add the folder by hand") from None
    path.write_text(text, encoding="utf-8")
