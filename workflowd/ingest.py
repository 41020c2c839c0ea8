"""``workflowd ingest``: take files now and process them in this process, no daemon needed."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .alerts.delivery import deliver_due
from .config import FolderSourceSettings, Settings
from .extract import SandboxedExtractor
from .filenames import display
from .intake import FileChanged, take_file
from .processing import Processor
from .runtime import build_pipelines
from .sources.filters import wanted
from .store import Store

log = logging.getLogger("workflowd.ingest")

CLI_SOURCE = "ingest"
CHANGED_RETRIES = 5


@dataclass
class IngestReport:
    document_ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pending_deliveries: int = 0  # alerts' deliveries still waiting after this run's one pass


def ingest(settings: Settings, targets: list[Path], *, pipeline: str | None = None) -> IngestReport:
    """Record every file under ``targets`` and process each (and its attachments) before returning."""
    report = IngestReport()
    pipelines = build_pipelines(settings)
    if pipeline is not None:
        pipelines.require(pipeline)
    store = Store(settings.db_path)
    try:
        taken: list[int] = []
        for path in _files(targets, report):
            source, pipe = _source_for(path, settings)
            doc_id = _take(store, settings, path, source=source, pipeline=pipeline or pipe, report=report)
            if doc_id is not None and doc_id not in taken:
                taken.append(doc_id)
        store.jobs.recover()
        with SandboxedExtractor(settings.extract, settings.blob_dir, settings.plugins_dir, settings.ocr) as extractor:
            report.document_ids = _process_all(store, Processor(store, settings, pipelines, extractor), taken)
        deliver_due(settings, store)  # without a daemon the webhook still goes out; its retries wait for one
        report.pending_deliveries = store.outbox.counts()["pending"]
    finally:
        pipelines.close()
        store.close()
    return report


def _files(targets: list[Path], report: IngestReport) -> Iterator[Path]:
    for target in targets:
        target = target.expanduser().absolute()
        if target.is_dir():
            for dirpath, dirnames, filenames in os.walk(target):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    path = Path(dirpath) / name
                    if wanted(PurePosixPath(path.relative_to(target).as_posix()), [], []):
                        yield path
        elif target.is_file():
            yield target  # named explicitly: taken even if its name looks temporary
        elif target.exists():
            report.problems.append(f"{display(target)}: not a regular file")
        else:
            report.problems.append(f"{display(target)}: no such file or directory")


def _source_for(path: Path, settings: Settings) -> tuple[str, str]:
    """The configured folder source a path lies in (its name and pipeline), else the CLI's own."""
    for conf in settings.sources:
        if isinstance(conf, FolderSourceSettings) and path.is_relative_to(conf.path):
            return conf.name, conf.pipeline
    return CLI_SOURCE, "default"


def _take(
    store: Store, settings: Settings, path: Path, *, source: str, pipeline: str, report: IngestReport
) -> int | None:
    for attempt in range(CHANGED_RETRIES):
        try:
            doc_id, _created = take_file(store, settings, path, source=source, pipeline=pipeline)
            return doc_id
        except FileChanged:
            time.sleep(0.2 * (attempt + 1))
        except OSError as exc:
            report.problems.append(f"{display(path)}: {exc.strerror or exc}")
            return None
    report.problems.append(f"{display(path)}: the file kept changing while it was read")
    return None


def _process_all(store: Store, processor: Processor, ids: list[int]) -> list[int]:
    """Process these documents and their attachments, retries without waiting for the backoff.

    Documents that a running daemon took first are waited for. Returns every id, attachments
    after their parent.
    """
    tracked = list(ids)
    seen = set(tracked)

    def add_children(parents: list[int]) -> None:
        for child in store.documents.children_of(parents):
            if child not in seen:
                seen.add(child)
                tracked.append(child)

    while True:
        jobs = store.jobs.claim_batch(processor.settings.model.batch_documents, now=math.inf, document_ids=tracked)
        if jobs:
            processor.process_batch(jobs)
            add_children([job.document_id for job in jobs])
        elif store.jobs.running_for(tracked):
            time.sleep(0.2)  # another process (the daemon) holds one of them
            add_children(tracked)
        else:
            add_children(tracked)  # attachments of documents the daemon processed
            if not store.jobs.claim_possible(tracked):
                return tracked
