"""A real, throwaway Dovecot IMAP server on 127.0.0.1 for tests of IMAP mail sources.

``Dovecot(root)`` writes a config of its own under ``root`` (nothing under /etc/dovecot is read
or touched) and runs ``dovecot -F -c <root>/dovecot.conf`` as a child process. Needs root
(Dovecot's master and the mail processes switch users) and the ``mail``, ``dovenull`` and
``dovecot`` system users that the Debian package creates; ``Dovecot.unavailable()`` says why not.

Layout under ``root``::

    dovecot.conf, passwd        the config and the one passwd-file user
    dovecot.log                 everything Dovecot logs (info included)
    dovecot.stderr              the master's own stdout/stderr (config errors at start-up)
    run/  state/                base_dir (master.pid, sockets) and state_dir
    mail/<user>/Maildir         the user's mail (owned by the ``mail`` user)
    tls/cert.pem, tls/key.pem   the self-signed certificate, with ``tls=True``

The mail processes run as the ``mail`` user, which could not even traverse pytest's private
(0700) temp folders; so they chroot into ``root/mail`` (the ``/./`` in the passwd-file home, allowed
by ``valid_chroot_dirs``), and the auth process runs as root to read the passwd file.

Fetch counting: every IMAP session logs, when it ends (LOGOUT, client disconnect or server
shutdown), one line such as::

    ... imap(alice)<pid><session>: Info: Disconnected: Logged out \
fetch-counts rip=127.0.0.1 hdr_count=0 hdr_bytes=0 body_count=3 body_bytes=12794

``fetch_counts()`` sums these lines. A session still connected has logged nothing yet: its
counts appear only once the client has logged out or disconnected (or the server is stopped).
The helper methods here (``append``, ``uids``...) connect from 127.0.0.2 so that their own
sessions are left out of the sums.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Self

DOVECOT_CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
HELPER_ADDRESS = "127.0.0.2"  # source address of this module's own IMAP sessions

_COUNTS_RE = re.compile(
    r"fetch-counts rip=(?P<rip>\S*) hdr_count=(?P<hdr_count>\d+) hdr_bytes=(?P<hdr_bytes>\d+) "
    r"body_count=(?P<body_count>\d+) body_bytes=(?P<body_bytes>\d+)"
)
_APPENDUID_RE = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class DovecotError(RuntimeError):
    """The test server could not be started, stopped or used."""


def dovecot_binary() -> str | None:
    """The dovecot executable: on PATH, or in the sbin folders a non-root PATH often lacks."""
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in DOVECOT_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all held open at once, so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _quote(name: str) -> str:
    """An IMAP quoted string (imaplib sends mailbox names as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (a reparented child may stay a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (Dovecot's children: log, config, auth, imap-login, imap...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class _HelperIMAP(imaplib.IMAP4):
    """imaplib.IMAP4 connecting from HELPER_ADDRESS, so its sessions are told apart in the log."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        try:
            return socket.create_connection(
                (self.host, self.port), timeout, source_address=(HELPER_ADDRESS, 0)
            )
        except OSError:  # no 127.0.0.2 here: connect plainly (counts then include these sessions)
            return super()._create_socket(timeout)


class Dovecot:
    """A Dovecot IMAP server for one user, on 127.0.0.1, with its files under ``root``."""

    host = "127.0.0.1"

    def __init__(self, root: Path, *, user: str = "alice", password: str = "secret", tls: bool = False):
        if not _SAFE_NAME.match(user):
            raise ValueError(f"user name {user!r}: letters, digits, '.', '_' and '-' only")
        if not password or any(c in password for c in ":\n\r"):
            raise ValueError("password: not empty, no ':' or line breaks (passwd-file format)")
        self.root = Path(root).resolve()
        self.user = user
        self.password = password
        self.tls = tls
        ports = _free_ports(2 if tls else 1)
        self.port: int = ports[0]  # kept across stop()/start()
        self.imaps_port: int | None = ports[1] if tls else None
        self.mail_root = self.root / "mail"
        self.home = self.mail_root / user
        self.maildir = self.home / "Maildir"
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.base_dir = self.root / "run"
        self.cert_path: Path | None = self.root / "tls" / "cert.pem" if tls else None
        self.key_path: Path | None = self.root / "tls" / "key.pem" if tls else None
        self._proc: subprocess.Popen | None = None
        self._prepared = False

    # -- availability ---------------------------------------------------------------------

    @staticmethod
    def unavailable() -> str | None:
        """Why a server cannot run here (a skip reason), or None when it can."""
        if dovecot_binary() is None:
            return "dovecot is not installed (not on PATH nor in /usr/sbin; apt-get install dovecot-imapd)"
        if os.geteuid() != 0:
            return "the Dovecot test server must run as root (its master switches users)"
        for name in ("mail", "dovenull", "dovecot"):
            try:
                pwd.getpwnam(name)
            except KeyError:
                return f"system user {name!r} missing (the dovecot-core package creates dovenull and dovecot)"
        return None

    # -- set-up ---------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._prepared:
            return
        mail = pwd.getpwnam("mail")
        for d in (self.root, self.base_dir, self.root / "state", self.maildir):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.mail_root, self.home, self.maildir):
            os.chown(d, mail.pw_uid, mail.pw_gid)
        # The "/./" makes Dovecot chroot the mail processes into mail_root (see the module doc).
        home = f"{self.mail_root}/./{self.user}"
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{mail.pw_uid}:{mail.pw_gid}::{home}\n"
        )
        os.chmod(self.root / "passwd", 0o600)
        if self.tls:
            self._make_certificate()
        self.config_path.write_text(self._config())
        self._prepared = True

    def _make_certificate(self) -> None:
        assert self.cert_path is not None and self.key_path is not None
        self.cert_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            shutil.which("openssl") or "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(self.key_path), "-out", str(self.cert_path), "-days", "2",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
            "-addext", "extendedKeyUsage=serverAuth",
        ]  # fmt: skip
        result = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise DovecotError(f"openssl could not make the test certificate:\n{result.stderr}")

    def _config(self) -> str:
        if self.tls:
            ssl_lines = f"ssl = yes\nssl_cert = <{self.cert_path}\nssl_key = <{self.key_path}\n"
            imaps = f"address = {self.host}\n    port = {self.imaps_port}\n    ssl = yes"
        else:
            ssl_lines = "ssl = no\n"
            imaps = "port = 0"
        return f"""\
# Written by tests/mailserver.py for one test; not the system config.
protocols = imap
listen = {self.host}
base_dir = {self.base_dir}
state_dir = {self.root / "state"}
log_path = {self.log_path}
info_log_path =
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:~/Maildir
valid_chroot_dirs = {self.mail_root}
imap_logout_format = fetch-counts rip=%r hdr_count=%{{fetch_hdr_count}} hdr_bytes=%{{fetch_hdr_bytes}} \
body_count=%{{fetch_body_count}} body_bytes=%{{fetch_body_bytes}}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.root / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = {self.root / "passwd"}
}}
service auth {{
  user = root
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
"""

    # -- life cycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.log_path, self.root / "dovecot.stderr"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts) or "(no log written)"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until a LOGIN works; DovecotError with the log tail if not."""
        if self.running:
            return
        binary = dovecot_binary()
        if binary is None:
            raise DovecotError("dovecot is not installed")
        self._prepare()
        if _port_open(self.host, self.port):
            raise DovecotError(f"port {self.port} is taken by another process; cannot start Dovecot there")
        with open(self.root / "dovecot.stderr", "ab") as err:
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True,  # a Ctrl-C of pytest reaches the fixture, which stops it
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise DovecotError(f"dovecot exited at start-up (exit code {code}):\n{self.log_tail()}")
            if _port_open(self.host, self.port) and (
                self.imaps_port is None or _port_open(self.host, self.imaps_port)
            ):
                try:
                    with self._client():
                        pass
                    return
                except (OSError, imaplib.IMAP4.error) as exc:
                    last_error = exc
            time.sleep(0.05)
        self.stop()
        raise DovecotError(
            f"Dovecot did not accept an IMAP LOGIN on {self.host}:{self.port} within {timeout:.0f} s"
            f" (last error: {last_error!r}):\n{self.log_tail()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Kill the master (pid from master.pid) and wait until its processes and ports are gone."""
        if self._proc is None:
            return
        proc = self._proc
        pid = proc.pid
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.base_dir / "master.pid").read_text().split()[0])
        # Dovecot 2.3's master, when killed, leaves running imap processes behind (they live on
        # until their client hangs up), so end them first: they log their fetch counts
        # ("Server shutting down") while the log process still runs.
        family = _descendants(pid)
        for p in family:
            if _comm(p) == "imap":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        family += [p for p in _descendants(pid) if p not in family]
        for p in family:  # left-overs, now children of init; the log process ends by itself
            if _alive(p) and _comm(p) != "log":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGTERM)
        while any(_alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.02)
        for p in family:
            if _alive(p):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
        ports = [self.port] + ([self.imaps_port] if self.imaps_port else [])
        while any(_port_open(self.host, p) for p in ports) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._proc = None
        if any(_port_open(self.host, p) for p in ports):
            raise DovecotError(f"a port of the stopped Dovecot is still open:\n{self.log_tail()}")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Dovecot {self.user}@{self.host}:{self.port} {state} root={self.root}>"

    # -- IMAP helpers ---------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the self-signed certificate (tls=True only)."""
        if self.cert_path is None:
            raise DovecotError("this server was made without tls=True")
        return ssl.create_default_context(cafile=str(self.cert_path))

    @contextlib.contextmanager
    def _client(self) -> Iterator[imaplib.IMAP4]:
        conn = _HelperIMAP(self.host, self.port, timeout=10)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def _check(self, what: str, typ: str, data: list) -> list:
        if typ != "OK":
            raise DovecotError(f"{what} failed: {typ} {data!r}")
        return data

    def append(self, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        """Append one message; returns its UID (from APPENDUID)."""
        flag_list = tuple(flags)
        flag_arg = "(" + " ".join(flag_list) + ")" if flag_list else None
        with self._client() as conn:
            data = self._check("APPEND", *conn.append(_quote(folder), flag_arg, None, raw))
        match = _APPENDUID_RE.search(b" ".join(d for d in data if isinstance(d, bytes)))
        if not match:
            raise DovecotError(f"no APPENDUID in the APPEND response: {data!r}")
        return int(match.group(2))

    def create_folder(self, name: str) -> None:
        with self._client() as conn:
            self._check("CREATE", *conn.create(_quote(name)))
            self._check("SUBSCRIBE", *conn.subscribe(_quote(name)))

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self._client() as conn:
            self._check("SELECT", *conn.select(_quote(folder), readonly=True))
            data = self._check("UID SEARCH", *conn.uid("SEARCH", None, "ALL"))
        return sorted(int(u) for u in (data[0] or b"").split())

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self._client() as conn:
            data = self._check("STATUS", *conn.status(_quote(folder), "(UIDVALIDITY)"))
        match = _UIDVALIDITY_RE.search(data[0] or b"")
        if not match:
            raise DovecotError(f"no UIDVALIDITY in the STATUS response: {data!r}")
        return int(match.group(1))

    def folder_path(self, folder: str = "INBOX") -> Path:
        """The Maildir++ folder on disk (INBOX is the Maildir itself; "a.b" is Maildir/.a.b)."""
        if folder.upper() == "INBOX":
            return self.maildir
        return self.maildir / ("." + folder.replace("/", "."))

    def reset_uidvalidity(self, folder: str = "INBOX") -> int:
        """Give ``folder`` a new UIDVALIDITY, keeping its messages (and their flags); returns it.

        Stops the server, deletes the folder's dovecot-uidlist and index files and the
        mailbox-list index, and starts it again (if it was running): Dovecot rebuilds them from
        the maildir files and takes the next value from the ``dovecot-uidvalidity`` file, always
        above the old one even within the same second. The UIDs usually restart at 1.
        """
        path = self.folder_path(folder)
        if not path.is_dir():
            raise DovecotError(f"no folder {folder!r} at {path}")
        was_running = self.running
        if not was_running:
            self.start()
        old = self.uidvalidity(folder)
        self.stop()
        doomed = list(path.glob("dovecot-uidlist*")) + list(path.glob("dovecot.index*"))
        doomed += list(self.maildir.glob("dovecot.list.index*"))
        for f in doomed:
            f.unlink(missing_ok=True)
        self.start()
        new = self.uidvalidity(folder)
        if not was_running:
            self.stop()
        if new == old:
            raise DovecotError(f"UIDVALIDITY of {folder!r} did not change ({old})")
        return new

    # -- log ------------------------------------------------------------------------------

    def fetch_counts(self, *, min_sessions: int = 0, timeout: float = 5.0) -> dict[str, int]:
        """Sums over all finished client sessions (not this module's own) of what was fetched.

        Keys: sessions, hdr_count, hdr_bytes, body_count, body_bytes. A session's counts are
        logged when it ends, so a client must have logged out or disconnected first; with
        ``min_sessions`` this waits (up to ``timeout``) until that many sessions have ended.
        """
        deadline = time.monotonic() + timeout
        while True:
            totals = dict.fromkeys(("sessions", "hdr_count", "hdr_bytes", "body_count", "body_bytes"), 0)
            text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            for match in _COUNTS_RE.finditer(text):
                if match["rip"] == HELPER_ADDRESS:
                    continue
                totals["sessions"] += 1
                for key in ("hdr_count", "hdr_bytes", "body_count", "body_bytes"):
                    totals[key] += int(match[key])
            if totals["sessions"] >= min_sessions:
                return totals
            if time.monotonic() >= deadline:
                raise DovecotError(
                    f"only {totals['sessions']} of {min_sessions} IMAP sessions ended within {timeout:.0f} s"
                    f":\n{self.log_tail()}"
                )
            time.sleep(0.05)
