"""The worker thread: claims jobs from the store and processes them one at a time."""

from __future__ import annotations

import logging
import threading
import time

from ..config import Settings
from ..extract import SandboxedExtractor
from ..pipeline import Pipelines
from ..processing import Processor
from ..store import Job, JobLost, Store

log = logging.getLogger("workflowd.worker")

ERROR_BACKOFF_S = 5.0


class Worker(threading.Thread):
    def __init__(self, settings: Settings, pipelines: Pipelines):
        super().__init__(name="workflowd-worker", daemon=True)
        self.settings = settings
        self.pipelines = pipelines
        self.current: list[Job] = []  # the jobs being processed
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._next: tuple[Settings, Pipelines] | None = None
        self._extractor: SandboxedExtractor | None = None

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def abort(self) -> None:
        """Kill the extractor process the worker may be stuck in (stop timed out)."""
        extractor = self._extractor
        if extractor is not None:
            extractor.kill()

    def replace(self, settings: Settings, pipelines: Pipelines) -> None:
        """Use new settings and pipelines from the next job on (config reload)."""
        with self._lock:
            self._next = (settings, pipelines)
        self._wake.set()

    def run(self) -> None:
        store = Store(self.settings.db_path)
        extractor = self._extractor = SandboxedExtractor(self.settings.extract, self.settings.blob_dir)
        processor = Processor(store, self.settings, self.pipelines, extractor)
        try:
            while not self._stopping.is_set():
                extractor, processor = self._apply_replacement(store, extractor, processor)
                jobs: list[Job] = []
                try:
                    jobs = store.jobs.claim_batch(self.settings.model.batch_documents)
                    if not jobs:
                        due = store.jobs.next_due()
                        self._wake.wait(None if due is None else max(0.0, due - time.time()))
                        self._wake.clear()
                        continue
                    self.current = jobs
                    processor.process_batch(jobs)
                except Exception as exc:  # a bug or a store failure (disk full...): keep serving
                    log.exception("error in the worker; waiting %.0f s", ERROR_BACKOFF_S)
                    for job in jobs:
                        self._give_back(store, processor, job, exc)
                    self._stopping.wait(ERROR_BACKOFF_S)
                finally:
                    self.current = []
        finally:
            extractor.close()
            store.close()

    @staticmethod
    def _give_back(store: Store, processor: Processor, job: Job, exc: Exception) -> None:
        """Count the try as failed so the job is retried later, not left running forever."""
        try:
            store.jobs.fail(
                job, f"internal error: {type(exc).__name__}: {exc}", retry=True, delay=processor.retry_delay(job.attempts)
            )
        except JobLost:
            pass  # finished (or failed) before the error
        except Exception:
            log.exception("could not record the failure of job %s", job.id)

    def _apply_replacement(
        self, store: Store, extractor: SandboxedExtractor, processor: Processor
    ) -> tuple[SandboxedExtractor, Processor]:
        with self._lock:
            pending, self._next = self._next, None
        if pending is None:
            return extractor, processor
        settings, pipelines = pending
        if settings.extract != self.settings.extract:
            extractor.close()
            extractor = self._extractor = SandboxedExtractor(settings.extract, settings.blob_dir)
        old = self.pipelines
        self.settings, self.pipelines = settings, pipelines
        if old is not pipelines:
            old.close()
        return extractor, Processor(store, settings, pipelines, extractor)
