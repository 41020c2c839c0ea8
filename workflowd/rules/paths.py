"""Safe targets: a rendered value is one path component, and the path stays inside its root.

A title of ``../../etc/passwd`` becomes the one name ``.._.._etc_passwd``; a value with a
newline, a NUL or a terminal escape has them replaced; ``.`` and ``..`` become ``_``. The
path is then checked once more after normalisation (and through the links that already
exist): nothing a document holds can lead a file out of the target root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import RuleError
from .settings import root_of
from .templates import render

MAX_NAME_BYTES = 255  # NAME_MAX on Linux, macOS and Windows file systems
# Separators, NUL, C0 and C1 controls, DEL, line/paragraph separators, bidi overrides and isolates.
_UNSAFE = re.compile("[/\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def component(value: Any) -> str:
    """One template value as text fit for one path component (it may still be empty)."""
    text = _UNSAFE.sub("_", str(value))
    if text.strip() in (".", ".."):
        return "_"
    return text


def fit_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to ``limit`` bytes (as the file system encodes it), its extension kept."""
    if _size(name) <= limit:
        return name
    stem, ext = _split(name)
    if _size(ext) > limit // 2:
        stem, ext = name, ""
    while stem and _size(stem + ext) > limit:
        stem = stem[:-1]
    return (stem.rstrip() or "_") + ext


def numbered(path: Path, n: int) -> Path:
    """``name (n).ext`` beside ``path``, cut to fit a name's length limit."""
    stem, ext = _split(path.name)
    tail = f" ({n}){ext}"
    while stem and _size(stem + tail) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return path.with_name((stem or "_") + tail)


def _split(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot:]


def _size(text: str) -> int:
    return len(os.fsencode(text))


def target_root(template: str) -> Path:
    """The fixed folder a move/copy template starts with, ``~`` expanded."""
    return Path(os.path.expanduser(root_of(template)))


def render_target(template: str, context: dict[str, Any]) -> Path:
    """Where a move or copy goes: the rendered template, each value one safe component, inside
    the template's fixed root folder. Raises TemplateProblem or RuleError."""
    literal_root = root_of(template)
    rendered = render(template, context, finalize=component)
    if not rendered.startswith(literal_root):  # the root is literal text: this cannot differ
        raise RuleError(f"target {rendered!r} does not start with its folder {literal_root!r}")
    relative = rendered[len(literal_root):]
    if relative.endswith("/"):  # a folder: the file keeps its name
        relative += component(context.get("name") or "")
    return _inside(target_root(template), relative, template)


def render_name(template: str, context: dict[str, Any], folder: Path) -> Path:
    """Where a rename goes: the rendered name, one component, in ``folder``."""
    rendered = render(template, context, finalize=component)
    if "/" in rendered:
        raise RuleError(f"new name {rendered!r} holds a '/': a rename stays in its folder (use move)")
    return _inside(folder, rendered, template)


def _inside(root: Path, relative: str, template: str) -> Path:
    if not relative.strip():
        raise RuleError(f"target {template!r} gives no file name")
    parts = []
    for part in relative.split("/"):
        if part.strip() in (".", ".."):
            raise RuleError(f"target {template!r} has a {part.strip()!r} folder in its text: a target stays "
                            "inside its root folder")
        parts.append(fit_name(part if part.strip() else "_"))
    target = root.joinpath(*parts)
    check_inside(target, root)
    return target


def check_inside(target: Path, root: Path) -> None:
    """Raise RuleError unless ``target`` lies inside ``root``, after normalisation and through
    every link that already exists on the way."""
    norm_root = os.path.normpath(root)
    norm = os.path.normpath(target)
    if os.path.commonpath([norm_root, norm]) != norm_root or norm == norm_root:
        raise RuleError(f"target {target} is outside its root folder {root}")
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(os.path.dirname(norm))
    if os.path.commonpath([real_root, real_parent]) != real_root:
        raise RuleError(f"target {target} leads (through a link) outside its root folder {root}")
