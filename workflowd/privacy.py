"""Private by default: what workflowd writes is readable by its owner only.

The data dir holds the text of every document, mail with its attachments, the models
learnt from the owner's corrections and a log naming every file. So workflowd runs under
umask 077 (folders 0700, files 0600, whatever the umask it was started with: the database
and its WAL/SHM, logs, rotated or not, the pidfile, blobs, model artifacts, and what the
extractor and training children write), and at each start tightens what an older version
or a looser umask left in the data dir. Links in it are not followed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("workflowd.privacy")

PRIVATE_UMASK = 0o077
GROUP_OTHER = 0o077


def private_umask() -> int:
    """Make files and folders this process (and its children) creates private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def secure_data_dir(data_dir: Path) -> list[Path]:
    """Create ``data_dir`` (0700) and, when it was open to others (left by an older version or
    a looser umask), take group and other permissions from everything in it. A data dir that is
    0700 already is not walked at each start: nothing in it can be reached by others.

    Returns the paths whose permissions were tightened. A path that cannot be changed (owned
    by someone else) is logged and left as it is.
    """
    old = private_umask()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    tightened: list[Path] = []
    _tighten(data_dir, tightened)
    if not tightened:
        return tightened
    for dirpath, dirnames, filenames in os.walk(data_dir):  # links are not followed
        for name in dirnames + filenames:
            _tighten(Path(dirpath) / name, tightened)
    return tightened


def loose_permissions(path: Path) -> int | None:
    """The group/other permission bits of ``path`` (not following a link), or None if it is missing."""
    try:
        return stat.S_IMODE(os.lstat(path).st_mode) & GROUP_OTHER
    except FileNotFoundError:
        return None


def _tighten(path: Path, tightened: list[Path]) -> None:
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode)
        if mode & GROUP_OTHER:
            os.chmod(path, mode & ~GROUP_OTHER)
            tightened.append(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot make %s private: %s", path, exc.strerror or exc)
