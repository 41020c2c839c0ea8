"""Schema migrations, applied in order; ``PRAGMA user_version`` holds how many have run.

Never edit a migration that has shipped: add a new one at the end of ``MIGRATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database


def _m001_initial(db: Database) -> None:
    db["documents"].create(
        {
            "id": int,
            "parent_id": int,
            "sha256": str,
            "source": str,
            "path": str,
            "name": str,
            "media_type": str,
            "size": int,
            "title": str,
            "text": str,
            "meta": str,
            "status": str,
            "error": str,
            "created_at": str,
            "updated_at": str,
            "processed_at": str,
        },
        pk="id",
        not_null={"sha256", "source", "status", "created_at", "updated_at"},
        defaults={"meta": "{}"},
        foreign_keys=[("parent_id", "documents", "id")],
    )
    db["documents"].create_index(["sha256"], unique=True)
    db["documents"].create_index(["status"])
    db["documents"].create_index(["parent_id"])

    db["locations"].create(
        {
            "id": int,
            "document_id": int,
            "source": str,
            "path": str,
            "size": int,
            "mtime_ns": int,
            "first_seen": str,
            "last_seen": str,
        },
        pk="id",
        not_null={"document_id", "source", "path"},
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["locations"].create_index(["document_id", "source", "path"], unique=True)
    db["locations"].create_index(["path", "size", "mtime_ns"])

    db["jobs"].create(
        {
            "id": int,
            "document_id": int,
            "kind": str,  # process (| repredict, from migration 5)
            "pipeline": str,
            "status": str,  # pending | running | done | failed
            "attempts": int,
            "max_attempts": int,
            "run_after": float,  # unix time; a retry waits until then
            "worker": str,  # "<host>:<pid>" of the process running it
            "last_error": str,
            "created_at": str,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        not_null={"document_id", "kind", "status", "attempts", "max_attempts", "run_after", "created_at"},
        defaults={"attempts": 0, "run_after": 0.0},
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["jobs"].create_index(["status", "run_after"])
    db["jobs"].create_index(["document_id"])

    db["step_results"].create(
        {
            "id": int,
            "document_id": int,
            "step": str,
            "status": str,  # ok | failed
            "data": str,  # JSON
            "confidence": float,
            "model_version": str,
            "needs_review": int,
            "error": str,
            "created_at": str,
        },
        pk="id",
        not_null={"document_id", "step", "status", "created_at"},
        defaults={"needs_review": 0},
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["step_results"].create_index(["document_id", "step"], unique=True)

    db["corrections"].create(
        {
            "id": int,
            "document_id": int,
            "task": str,
            "value": str,  # JSON: the corrected answer
            "previous": str,  # JSON: what the model said
            "model_version": str,
            "author": str,
            "created_at": str,
        },
        pk="id",
        not_null={"document_id", "task", "value", "created_at"},
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["corrections"].create_index(["task", "created_at"])

    db["alerts"].create(
        {
            "id": int,
            "document_id": int,
            "step": str,
            "level": str,
            "message": str,
            "payload": str,  # JSON
            "created_at": str,
            "delivered_at": str,
            "attempts": int,
            "last_error": str,
        },
        pk="id",
        not_null={"step", "level", "message", "created_at"},
        defaults={"attempts": 0},
        foreign_keys=[("document_id", "documents", "id")],
    )

    db["model_versions"].create(
        {
            "id": int,
            "task": str,
            "version": str,
            "path": str,
            "status": str,  # candidate | promoted | rejected | retired
            "base_model": str,
            "metrics": str,  # JSON
            "meta": str,  # JSON: data size and hash, hyperparameters
            "created_at": str,
            "promoted_at": str,
        },
        pk="id",
        not_null={"task", "version", "status", "created_at"},
    )
    db["model_versions"].create_index(["task", "version"], unique=True)


def _m002_embeddings(db: Database) -> None:
    """Each document's embedding, so that models can be retrained and re-run without the encoder."""
    db["embeddings"].create(
        {"document_id": int, "encoder": str, "dim": int, "vector": bytes, "created_at": str},
        pk="document_id",
        not_null={"encoder", "dim", "vector", "created_at"},
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["embeddings"].create_index(["encoder"])


def _m003_mail(db: Database) -> None:
    """Where each mail source stands, so that no message is fetched or taken twice."""
    db["mail_folders"].create(
        {"source": str, "folder": str, "uidvalidity": int, "last_uid": int, "updated_at": str},
        pk=("source", "folder"),
        not_null={"uidvalidity", "last_uid", "updated_at"},
    )
    db["mail_messages"].create(
        {
            "id": int,
            "source": str,
            "folder": str,  # IMAP folder; "" for a Maildir
            "key": str,  # IMAP "<uidvalidity>:<uid>"; the Maildir file's unique name
            "message_id": str,
            "document_id": int,
            "action_pending": int,  # 1 while mark-seen / flag / move is still to be done
            "error": str,
            "created_at": str,
        },
        pk="id",
        not_null={"source", "folder", "key", "created_at"},
        defaults={"action_pending": 0},
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["mail_messages"].create_index(["source", "folder", "key"], unique=True)
    db["mail_messages"].create_index(["source", "message_id"])


def _m004_corrections(db: Database) -> None:
    """Corrections that travel: the document's sha256 (and, when imported without the document,
    its text), the model's confidence, where the answer came from, and undo."""
    db.execute(
        """CREATE TABLE corrections_new (
            id INTEGER PRIMARY KEY,
            document_id INTEGER REFERENCES documents(id),
            sha256 TEXT,
            text TEXT,
            task TEXT NOT NULL,
            value TEXT NOT NULL,
            previous TEXT,
            model_version TEXT,
            confidence REAL,
            author TEXT,
            origin TEXT,
            created_at TEXT NOT NULL,
            undone_at TEXT
        )"""
    )
    db.execute(
        "INSERT INTO corrections_new (id, document_id, sha256, task, value, previous, model_version, author,"
        " origin, created_at) SELECT c.id, c.document_id, d.sha256, c.task, c.value, c.previous, c.model_version,"
        " c.author, 'cli', c.created_at FROM corrections c LEFT JOIN documents d ON d.id = c.document_id"
    )
    db.execute("DROP TABLE corrections")
    db.execute("ALTER TABLE corrections_new RENAME TO corrections")
    db.execute("CREATE INDEX idx_corrections_task_created ON corrections (task, created_at)")
    db.execute("CREATE INDEX idx_corrections_document_task ON corrections (document_id, task)")
    db.execute("CREATE INDEX idx_corrections_sha256 ON corrections (sha256)")


def _m005_repredict_jobs(db: Database) -> None:
    """Jobs that re-run one step on a document's stored text after a new model is promoted."""
    db.execute("ALTER TABLE jobs ADD COLUMN step TEXT")  # the step a ``repredict`` job re-runs


def _m006_raw_paths(db: Database) -> None:
    """The exact bytes of a location's path where they are not what ``path`` shows (a name that is
    not UTF-8, or holds a newline): ``path`` stays readable text, ``path_raw`` is what the file
    system knows (workflowd/filenames.py). NULL for every ordinary path."""
    db.execute("ALTER TABLE locations ADD COLUMN path_raw BLOB")
    # Two names that display alike (the byte 0xff, and the four characters backslash x f f) are two places.
    db.execute("DROP INDEX IF EXISTS idx_locations_document_id_source_path")
    db.execute(
        "CREATE UNIQUE INDEX idx_locations_place ON locations (document_id, source, path, ifnull(path_raw, x''))"
    )


def _m007_actions(db: Database) -> None:
    """The output side: tags, the rules each document went through, alerts with their reason and
    documents, and the outbox their deliveries wait in (written with the alert, retried until done)."""
    db.execute(
        """CREATE TABLE document_tags (
            document_id INTEGER NOT NULL REFERENCES documents(id),
            tag TEXT NOT NULL,
            origin TEXT,                      -- "rule:NAME", "cli", ...
            created_at TEXT NOT NULL,
            PRIMARY KEY (document_id, tag)
        )"""
    )
    db.execute("CREATE INDEX idx_document_tags_tag ON document_tags (tag)")
    db.execute(
        """CREATE TABLE rule_runs (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id),
            rule TEXT NOT NULL,
            status TEXT NOT NULL,             -- applied | failed | skipped
            detail TEXT,                      -- JSON: what each action did, or why it failed
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE UNIQUE INDEX idx_rule_runs_document_rule ON rule_runs (document_id, rule)")
    for column, kind in (("kind", "TEXT"), ("name", "TEXT"), ("reason", "TEXT"), ("scope", "TEXT"),
                         ("documents", "TEXT")):  # kind: rule | surge; documents: JSON list of ids
        db.execute(f"ALTER TABLE alerts ADD COLUMN {column} {kind}")
    db.execute("CREATE INDEX idx_alerts_created ON alerts (created_at)")
    db.execute("CREATE INDEX idx_alerts_kind_name_scope ON alerts (kind, name, scope, created_at)")
    db.execute(
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            notifier TEXT NOT NULL,
            message_id TEXT NOT NULL,         -- webhook-id: the same on every try
            body TEXT NOT NULL,               -- JSON, fixed when the alert is made
            status TEXT NOT NULL,             -- pending | delivered | dead
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,    -- unix time
            lease_until REAL,                 -- a sender holds it until then
            last_status INTEGER,              -- the last HTTP status, if any
            last_error TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT
        )"""
    )
    db.execute("CREATE UNIQUE INDEX idx_outbox_message_id ON outbox (message_id)")
    db.execute("CREATE INDEX idx_outbox_due ON outbox (status, next_attempt_at)")
    db.execute("CREATE INDEX idx_outbox_alert ON outbox (alert_id)")
    db.execute(
        """CREATE TABLE disabled_endpoints (
            notifier TEXT NOT NULL,
            url TEXT NOT NULL,                -- a changed URL is a new endpoint
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (notifier, url)
        )"""
    )


def _m008_hooks_pending(db: Database) -> None:
    """Set in the transaction that stores a document's results, cleared once its document_processed
    hooks (rules, surges, plugins) have run: a crash in between is caught up at the next start."""
    db.execute("ALTER TABLE documents ADD COLUMN hooks_pending INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX idx_documents_hooks_pending ON documents (hooks_pending) WHERE hooks_pending = 1")


def _m009_fulltext(db: Database) -> None:
    """Full-text search (FTS5) over each document's title, file name and text, kept in step with
    ``documents`` by triggers: an insert, a re-extraction (the text updated) and a deletion
    reach the index in the same transaction. Porter stemming; accents folded."""
    db.execute(
        "CREATE VIRTUAL TABLE documents_fts USING fts5(title, name, text, content='documents',"
        " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN"
        " INSERT INTO documents_fts (rowid, title, name, text) VALUES (new.id, new.title, new.name, new.text);"
        " END"
    )
    db.execute(
        "CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN"
        " INSERT INTO documents_fts (documents_fts, rowid, title, name, text)"
        " VALUES ('delete', old.id, old.title, old.name, old.text);"
        " END"
    )
    db.execute(
        "CREATE TRIGGER documents_fts_update AFTER UPDATE OF title, name, text ON documents BEGIN"
        " INSERT INTO documents_fts (documents_fts, rowid, title, name, text)"
        " VALUES ('delete', old.id, old.title, old.name, old.text);"
        " INSERT INTO documents_fts (rowid, title, name, text) VALUES (new.id, new.title, new.name, new.text);"
        " END"
    )
    db.execute("INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')")


MIGRATIONS: list[Callable[[Database], None]] = [
    _m001_initial,
    _m002_embeddings,
    _m003_mail,
    _m004_corrections,
    _m005_repredict_jobs,
    _m006_raw_paths,
    _m007_actions,
    _m008_hooks_pending,
    _m009_fulltext,
]

SCHEMA_VERSION = len(MIGRATIONS)
