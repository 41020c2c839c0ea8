"""The IMAP source against a real Dovecot server, driven through the real daemon."""

from __future__ import annotations

import json
import os
import shutil
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Env, base_config, shared_data
from tests.daemon.helpers import all_settled, query, wait_for
from tests.mailserver import Dovecot

pytestmark = pytest.mark.slow

PASSWORD_ENV = "WF_TEST_IMAP_PASSWORD"


def imap_config(
    env: Env,
    server: Dovecot,
    extra: str = "",
    *,
    steps: str = "[]",
    port: int | None = None,
    security: str = "none",
) -> None:
    env.env[PASSWORD_ENV] = server.password
    env.write_config(
        base_config(
            env.data_dir,
            env.inbox,
            f"""
[[sources]]
type = "imap"
name = "mail"
host = "127.0.0.1"
port = {port or server.port}
security = "{security}"
username = "{server.user}"
password_env = "{PASSWORD_ENV}"
poll_interval = 2
retry_delay_max = 1
{extra}
[pipelines.default]
steps = {steps}
""",
        )
    )


def mail_docs(env: Env) -> list[dict]:
    return query(env, "SELECT * FROM documents WHERE source = 'mail' ORDER BY id")


def messages_done(env: Env, n: int) -> bool:
    top = [d for d in mail_docs(env) if d["parent_id"] is None]
    return len(top) >= n and all_settled(env, 0)


def sample_messages() -> list[bytes]:
    """Real messages from the shared corpus: plain ham, and mails with attachments."""
    emails = shared_data("emails")
    ham = sorted((emails / "spamassassin" / "easy_ham").iterdir())[:4]
    att = emails / "mail_gem_fixtures" / "attachment_emails"
    files = ham + [att / "attachment_pdf_lf.eml", att / "attachment_nonascii_filename.eml"]
    return [p.read_bytes() for p in files]


def hostile_message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "mallory@example.com"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "../../etc/passwd"
    msg["Message-ID"] = "<hostile-1@example.com>"
    msg.set_content("Two attachments whose names try to leave the data folder.")
    msg.add_attachment(b"root:x:0:0:pwned\n", maintype="text", subtype="plain", filename="../../etc/passwd")
    msg.add_attachment(b"absolute path\n", maintype="text", subtype="plain", filename="/tmp/x")
    return msg.as_bytes()


def test_messages_and_attachments_exactly_once_and_no_fetch_after_restart(
    wf_env: Env, dovecot: Dovecot
) -> None:
    env = wf_env
    messages = sample_messages()
    for raw in messages[:3]:
        dovecot.append(raw)
    imap_config(env, dovecot, steps='["classify"]')
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 3), 90, "the first messages")
    for raw in messages[3:]:  # while the daemon waits in IDLE
        dovecot.append(raw)
    wait_for(lambda: messages_done(env, len(messages)), 60, "messages arriving while running")
    docs = mail_docs(env)
    top = [d for d in docs if d["parent_id"] is None]
    children = [d for d in docs if d["parent_id"] is not None]
    assert len(top) == len(messages)
    assert len({d["sha256"] for d in top}) == len(top)
    assert all(d["status"] == "done" for d in top), [(d["name"], d["error"]) for d in top]
    assert all(d["path"].startswith(f"imap://alice@127.0.0.1:{dovecot.port}/INBOX;UIDVALIDITY=") for d in top)
    assert any(c["media_type"] == "application/pdf" for c in children), children
    shown = env.json("show", str(top[0]["id"]))
    assert shown["text"] and shown["title"]
    assert "classify" in shown["results"]
    env.run("stop")
    counts = dovecot.fetch_counts(min_sessions=1)
    assert counts["body_count"] == len(messages)

    # A restart fetches nothing again: no body, no new row.
    rows_before = query(env, "SELECT COUNT(*) AS n FROM mail_messages")[0]["n"]
    env.run("start", timeout=120)
    wait_for(lambda: "connected to" in _log_since_restart(env), 30, "the reconnection")
    time.sleep(1.0)
    env.run("stop")
    after = dovecot.fetch_counts(min_sessions=counts["sessions"] + 1)
    assert after["body_count"] == counts["body_count"]
    assert len(mail_docs(env)) == len(docs)
    assert query(env, "SELECT COUNT(*) AS n FROM mail_messages")[0]["n"] == rows_before
    status = env.json("status")
    assert {"host": "127.0.0.1", "username": "alice"}.items() <= status["sources"][1].items()
    assert dovecot.password not in json.dumps(status)
    assert dovecot.password not in (env.data_dir / "logs" / "workflowd.log").read_text()


def _log_since_restart(env: Env) -> str:
    """The log of the daemon's last run: after the previous run's last line. (Not after its
    "workflowd started" line: a mail thread may log before the main thread writes that.)"""
    runs = (env.data_dir / "logs" / "workflowd.log").read_text().split("workflowd stopped")
    return runs[-2] if not runs[-1].strip() and len(runs) > 1 else runs[-1]


def test_server_down_while_running_then_back_every_message_once(wf_env: Env, dovecot: Dovecot) -> None:
    env = wf_env
    messages = sample_messages()
    dovecot.append(messages[0])
    imap_config(env, dovecot)
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 1), 60, "the first message")
    dovecot.stop()
    wait_for(
        lambda: "connecting again" in _log_since_restart(env), 30, "the daemon to notice the server is gone"
    )
    # Mail delivered while the server is down lands in its Maildir; it shows up when it is back.
    _deliver(dovecot, messages[1:4])
    time.sleep(1.5)  # a few failed reconnections
    assert env.json("status")["running"]
    dovecot.start()
    dovecot.append(messages[4])
    wait_for(lambda: messages_done(env, 5), 60, "the messages from while the server was down")
    time.sleep(2.5)  # one more poll: nothing comes twice
    top = [d for d in mail_docs(env) if d["parent_id"] is None]
    assert len(top) == 5
    assert len({d["sha256"] for d in top}) == 5
    env.run("stop")


def _deliver(server: Dovecot, messages: list[bytes]) -> None:
    """Deliver straight into the (stopped) server's Maildir, as an MDA would."""
    new = server.maildir / "new"
    new.mkdir(parents=True, exist_ok=True)
    owner = server.maildir.stat()
    for i, raw in enumerate(messages):
        path = new / f"{int(time.time())}.M{i}P{os.getpid()}.test"
        path.write_bytes(raw)
        os.chown(path, owner.st_uid, owner.st_gid)


def test_hostile_attachment_names_write_nothing_outside_the_data_dir(
    wf_env: Env, dovecot: Dovecot, tmp_path: Path
) -> None:
    env = wf_env
    dovecot.append(hostile_message())
    before = _snapshot(tmp_path, exclude=env.data_dir)
    tmp_x = Path("/tmp/x")
    tmp_x_before = tmp_x.exists() and tmp_x.read_bytes()
    imap_config(env, dovecot)
    env.run("start", timeout=120)
    wait_for(
        lambda: messages_done(env, 1) and len(mail_docs(env)) == 3, 60, "the message and its attachments"
    )
    env.run("stop")
    docs = mail_docs(env)
    names = sorted(d["name"] for d in docs if d["parent_id"] is not None)
    assert names == ["passwd", "x"]
    for d in docs:
        assert "/" not in d["name"]
    assert (tmp_x.exists() and tmp_x.read_bytes()) == tmp_x_before
    assert b"pwned" not in Path("/etc/passwd").read_bytes()
    after = _snapshot(tmp_path, exclude=env.data_dir)
    new_files = {p for p in after - before if "dovecot" not in p.parts}
    assert not new_files, new_files


def _snapshot(root: Path, exclude: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(exclude)}


def test_uidvalidity_change_resyncs_without_duplicates(wf_env: Env, dovecot: Dovecot) -> None:
    env = wf_env
    for raw in sample_messages()[:3]:
        dovecot.append(raw)
    imap_config(env, dovecot)
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 3), 60, "the messages")
    env.run("stop")
    dovecot.reset_uidvalidity()
    extra = sample_messages()[3]
    dovecot.append(extra)
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 4), 60, "the message added after the reset")
    time.sleep(1.0)
    env.run("stop")
    assert len([d for d in mail_docs(env) if d["parent_id"] is None]) == 4
    assert "UIDVALIDITY of 'INBOX' changed" in _log_since_restart(env)
    # the three known messages were matched by Message-ID, not fetched again
    assert dovecot.fetch_counts(min_sessions=2)["body_count"] == 4


def test_wrong_password_and_missing_folder_are_logged_and_retried(wf_env: Env, dovecot: Dovecot) -> None:
    env = wf_env
    dovecot.append(sample_messages()[0])
    imap_config(env, dovecot, 'folders = ["INBOX", "Receipts"]')
    env.env[PASSWORD_ENV] = "wrong-password"
    env.run("start", timeout=120)
    wait_for(lambda: "login refused" in _log_since_restart(env), 30, "the login failure in the log")
    assert env.json("status")["running"]
    assert mail_docs(env) == []
    env.run("stop")
    log = _log_since_restart(env)
    assert "wrong-password" not in log and "Traceback" not in log

    env.env[PASSWORD_ENV] = dovecot.password
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 1), 60, "the message once the password is right")
    assert "cannot open folder 'Receipts'" in _log_since_restart(env)
    dovecot.create_folder("Receipts")
    dovecot.append(sample_messages()[1], folder="Receipts")
    wait_for(lambda: messages_done(env, 2), 30, "the folder created later")
    env.run("stop")


def test_actions_after_processing_mark_seen_and_move(wf_env: Env, dovecot: Dovecot) -> None:
    env = wf_env
    dovecot.create_folder("Done")
    for raw in sample_messages()[:2]:
        dovecot.append(raw)
    imap_config(env, dovecot, 'mark_seen = true\nmove_to = "Done"')
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 2), 60, "the messages")
    wait_for(lambda: dovecot.uids("INBOX") == [] and len(dovecot.uids("Done")) == 2, 30, "the move")
    env.run("stop")
    seen = list((dovecot.folder_path("Done") / "cur").iterdir())
    assert len(seen) == 2 and all(
        p.name.endswith(("S", "S,")) or ":2," in p.name and "S" in p.name.split(":2,")[1] for p in seen
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_starttls(wf_env: Env, dovecot_tls: Dovecot, security: str) -> None:
    env = wf_env
    dovecot_tls.append(sample_messages()[0])
    port = dovecot_tls.imaps_port if security == "tls" else dovecot_tls.port
    imap_config(env, dovecot_tls, f'ca_file = "{dovecot_tls.cert_path}"', port=port, security=security)
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, 1), 60, f"a message over {security}")
    env.run("stop")


def test_maildir_gives_the_same_documents_as_imap(wf_env: Env, dovecot: Dovecot, tmp_path: Path) -> None:
    env = wf_env
    messages = sample_messages() + [hostile_message()]
    for raw in messages:
        dovecot.append(raw)
    imap_config(env, dovecot)
    env.run("start", timeout=120)
    wait_for(lambda: messages_done(env, len(messages)), 90, "the IMAP messages")
    env.run("stop")
    by_imap = _documents(env, "mail")

    maildir = tmp_path / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    for i, raw in enumerate(messages):
        (maildir / "tmp" / f"m{i}").write_bytes(raw)
        (maildir / "tmp" / f"m{i}").rename(maildir / "new" / f"1700000000.M{i}P1.host")
    other = env.root / "other"
    other.mkdir()
    env.write_config(
        base_config(
            env.data_dir / "second",
            env.inbox,
            f"""
[[sources]]
type = "maildir"
name = "md"
path = "{maildir}"
mark_seen = true
[pipelines.default]
steps = []
""",
        )
    )
    env.data_dir = env.data_dir / "second"
    env.run("start", timeout=120)
    wait_for(
        lambda: (
            len(
                [
                    d
                    for d in query(env, "SELECT * FROM documents WHERE source = 'md'")
                    if d["parent_id"] is None
                ]
            )
            == len(messages)
            and all_settled(env, 0)
        ),
        60,
        "Maildir",
    )
    wait_for(lambda: not list((maildir / "new").iterdir()), 30, "messages marked seen")
    env.run("stop")
    by_maildir = _documents(env, "md")
    assert by_maildir == by_imap
    assert sorted(p.name.split(":2,")[1] for p in (maildir / "cur").iterdir()) == ["S"] * len(messages)
    shutil.rmtree(maildir)


def _documents(env: Env, source: str) -> dict[str, tuple]:
    """Documents by sha256: what they hold, and their attachments' hashes."""
    docs = query(env, "SELECT * FROM documents WHERE source = ?", (source,))
    by_id = {d["id"]: d for d in docs}
    out = {}
    for d in docs:
        parent = by_id[d["parent_id"]]["sha256"] if d["parent_id"] else None
        out[d["sha256"]] = (parent, d["name"], d["media_type"], d["title"], d["text"], d["status"])
    return out


class CuttingProxy:
    """A TCP proxy to the server that cuts its first connection after ``limit`` bytes from the
    server: a connection dropped in the middle of a FETCH."""

    def __init__(self, target_port: int, limit: int):
        import socket
        import threading

        self.target_port, self.limit = target_port, limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(("127.0.0.1", self.target_port))
            limit = self.limit if self.connections == 1 else None
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, limit), daemon=True).start()

    def _pump(self, src, dst, limit: int | None) -> None:  # noqa: ANN001
        import socket

        sent = 0
        try:
            while data := src.recv(4096):
                if limit is not None and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    self.cut.set()
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_connection_dropped_mid_fetch_loses_and_duplicates_nothing(wf_env: Env, dovecot: Dovecot) -> None:
    env = wf_env
    ham = sorted((shared_data("emails", "spamassassin", "easy_ham")).iterdir())[:8]
    for p in ham:
        dovecot.append(p.read_bytes())
    total = sum(len(p.read_bytes()) for p in ham)
    proxy = CuttingProxy(dovecot.port, limit=total // 2)  # past login and search, inside the bodies
    try:
        imap_config(env, dovecot, port=proxy.port)
        env.run("start", timeout=120)
        wait_for(lambda: messages_done(env, len(ham)), 60, "every message after the cut")
        time.sleep(1.0)
        env.run("stop")
    finally:
        proxy.close()
    assert proxy.cut.is_set() and proxy.connections >= 2
    assert "connection lost" in _log_since_restart(env)
    top = [d for d in mail_docs(env) if d["parent_id"] is None]
    assert len(top) == len(ham) and len({d["sha256"] for d in top}) == len(ham)
