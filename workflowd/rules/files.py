"""Moving and copying a document's file without ever losing or overwriting one by accident.

A move on one file system is ``link(src, dst)`` then ``unlink(src)``: ``link`` refuses an
existing name atomically, so a file that appears at the target meanwhile is never replaced,
and a crash in between leaves two names for the same bytes, never none. Where hard links are
not supported, an empty placeholder made with ``O_EXCL`` reserves the name and ``rename``
fills it. Across file systems (EXDEV) the bytes are copied to a temporary file in the target
folder, fsynced, read back and checked against the document's sha256, put in place the same
way, and only then is the source removed. A copy is the second half of that.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RuleError
from .paths import numbered

CHUNK = 1 << 20
MAX_NUMBER = 10_000
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _same_content(path: Path, sha256: str, size: int) -> bool:
    """Whether ``path`` is a plain file holding that content (the size is compared first: cheap)."""
    try:
        st = os.lstat(path)
        return stat.S_ISREG(st.st_mode) and st.st_size == size and file_sha256(path) == sha256
    except OSError:
        return False


@dataclass(frozen=True)
class Resolution:
    """What placing a file at a target comes to, as the disk stands now (nothing changed yet).

    ``kind``: free (the target is free), numbered (a free numbered name), same (the file is
    already the target), identical (that content is already there), skip, overwrite, aside
    (the file there is first moved to ``aside``)."""

    kind: str
    path: Path | None
    aside: Path | None = None


@dataclass
class Placed:
    """Where the file ended up (None: skipped) and which existing files were moved aside."""

    path: Path | None
    kind: str
    displaced: list[tuple[Path, Path]] = field(default_factory=list)


def resolve(src: Path, target: Path, *, sha256: str, on_conflict: str, trash_dir: Path) -> Resolution:
    """Decide, reading only, what putting ``src`` (content ``sha256``) at ``target`` does."""
    if not os.path.lexists(target):
        return Resolution("free", target)
    size = os.stat(src).st_size
    try:
        if os.path.samefile(src, target):
            return Resolution("same", target)
    except OSError:
        pass
    if _same_content(target, sha256, size):
        return Resolution("identical", target)
    if on_conflict == "skip":
        return Resolution("skip", None)
    if on_conflict != "rename_new" and target.is_dir() and not target.is_symlink():
        raise RuleError(f"{target} is a folder: on_conflict = {on_conflict!r} applies to files only")
    if on_conflict == "overwrite":
        return Resolution("overwrite", target)
    if on_conflict == "rename_existing":
        return Resolution("aside", target, _free_name(target))
    if on_conflict == "trash":
        return Resolution("aside", target, _free_name(trash_dir / target.name))
    for n in range(2, MAX_NUMBER):
        candidate = numbered(target, n)
        if not os.path.lexists(candidate):
            return Resolution("numbered", candidate)
        if _same_content(candidate, sha256, size):
            return Resolution("identical", candidate)
    raise RuleError(f"no free name beside {target} after {MAX_NUMBER} tries")


def _free_name(path: Path) -> Path:
    if not os.path.lexists(path):
        return path
    for n in range(2, MAX_NUMBER):
        candidate = numbered(path, n)
        if not os.path.lexists(candidate):
            return candidate
    raise RuleError(f"no free name beside {path} after {MAX_NUMBER} tries")


def move_file(src: Path, target: Path, *, sha256: str, on_conflict: str, trash_dir: Path) -> Placed:
    """Move ``src`` to ``target`` under ``on_conflict``; its content must be ``sha256``."""
    return _place(src, target, sha256=sha256, on_conflict=on_conflict, trash_dir=trash_dir, keep=False)


def copy_file(src: Path, target: Path, *, sha256: str, on_conflict: str, trash_dir: Path) -> Placed:
    """Copy ``src`` to ``target`` under ``on_conflict``, verified against ``sha256``."""
    return _place(src, target, sha256=sha256, on_conflict=on_conflict, trash_dir=trash_dir, keep=True)


def _place(src: Path, target: Path, *, sha256: str, on_conflict: str, trash_dir: Path, keep: bool) -> Placed:
    target.parent.mkdir(parents=True, exist_ok=True)
    res = resolve(src, target, sha256=sha256, on_conflict=on_conflict, trash_dir=trash_dir)
    if res.kind == "skip":
        return Placed(None, "skip")
    if res.kind == "same":
        return Placed(target, "same")
    assert res.path is not None
    if res.kind == "identical":
        if not keep:
            os.unlink(src)
        return Placed(res.path, "identical")
    displaced = []
    if res.kind == "aside":
        assert res.aside is not None
        res.aside.parent.mkdir(parents=True, exist_ok=True)
        aside = _put(target, res.aside, sha256=file_sha256(target), keep=False, replace=False, renumber=True)
        displaced.append((target, aside))
    path = _put(src, res.path, sha256=sha256, keep=keep, replace=res.kind == "overwrite",
                renumber=on_conflict == "rename_new")
    return Placed(path, res.kind, displaced)


def _put(src: Path, dest: Path, *, sha256: str, keep: bool, replace: bool, renumber: bool) -> Path:
    """Put ``src`` at ``dest`` (``replace``: over what is there; ``renumber``: at the next free
    numbered name when ``dest`` is taken meanwhile). Returns where it went."""
    if not keep:
        try:
            if replace:
                os.rename(src, dest)
                _sync_dir(dest.parent)
                return dest
            placed, linked = _claim(dest, renumber, lambda d: os.link(src, d, follow_symlinks=False),
                                    lambda d: os.rename(src, d))
            if linked:
                os.unlink(src)
            _sync_dir(dest.parent)
            return placed
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    tmp = _verified_copy(src, dest.parent, sha256)
    try:
        if replace:
            os.replace(tmp, dest)
            placed = dest
        else:
            placed, _ = _claim(dest, renumber, lambda d: os.link(tmp, d), lambda d: os.rename(tmp, d))
    finally:
        if tmp.exists():
            os.unlink(tmp)
    _sync_dir(dest.parent)
    if not keep:
        os.unlink(src)
    return placed


def _claim(dest: Path, renumber: bool, link, rename) -> tuple[Path, bool]:
    """Give the file the name ``dest`` (or the next free numbered one), never over an existing file.
    Returns the name and whether it was linked (the old name is still there) or renamed."""
    for n in range(1, MAX_NUMBER):
        candidate = dest if n == 1 else numbered(dest, n)
        try:
            try:
                link(candidate)
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                # no hard links here (FAT, some FUSE): reserve the name, then rename over our placeholder
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                try:
                    rename(candidate)
                except BaseException:
                    os.unlink(candidate)
                    raise
                return candidate, False
            return candidate, True
        except FileExistsError:
            if not renumber:
                raise RuleError(f"{dest} appeared while the file was being put there; nothing was overwritten") \
                    from None
    raise RuleError(f"no free name beside {dest} after {MAX_NUMBER} tries")


def _verified_copy(src: Path, folder: Path, sha256: str) -> Path:
    """A copy of ``src`` in ``folder`` under a temporary dot-name, fsynced and read back: its
    sha256 must be ``sha256`` (else RuleError, and nothing is left behind)."""
    fd, name = tempfile.mkstemp(prefix=".workflowd-", suffix=".part", dir=folder)
    tmp = Path(name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise RuleError(f"{src} no longer holds the document's content (its sha256 changed); not copied")
        shutil.copystat(src, tmp)
        if file_sha256(tmp) != sha256:
            raise RuleError(f"the copy of {src} in {folder} does not read back as written; not copied")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
