"""The worker thread: claims jobs from the store and processes them one at a time.

Whatever a job raises (a bug, a full disk, SystemExit from a plugin) costs that try of those
jobs, not the thread. Should the thread end anyway, ``on_exit`` wakes the daemon, which
re-queues what it held and starts another (daemon/supervise.py); that one first processes
the documents the dead one held one at a time ("suspects"), so that a document that kills
the worker uses up its own tries, not those of the documents batched with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..config import Settings
from ..extract import SandboxedExtractor
from ..pipeline import Pipelines
from ..processing import Processor
from ..store import Job, JobLost, Store

log = logging.getLogger("workflowd.worker")

ERROR_BACKOFF_S = 5.0


class Worker(threading.Thread):
    def __init__(
        self,
        settings: Settings,
        pipelines: Pipelines,
        on_exit: Callable[[], None] | None = None,
        suspects: list[int] | None = None,
    ):
        super().__init__(name="workflowd-worker", daemon=True)
        self.settings = settings
        self.pipelines = pipelines
        self.on_exit = on_exit  # called when the thread ends, however it ends
        self.suspects = list(suspects or [])  # documents to process alone before batching again
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

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def successor(self) -> Worker:
        """A new worker for the one that died: the latest settings and pipelines, the same
        on_exit, and as suspects the documents it held and those it had not yet cleared."""
        with self._lock:
            settings, pipelines = self._next or (self.settings, self.pipelines)
        held = [job.document_id for job in self.current]
        suspects = held + [d for d in self.suspects if d not in held]
        return Worker(settings, pipelines, on_exit=self.on_exit, suspects=suspects)

    def replace(self, settings: Settings, pipelines: Pipelines) -> None:
        """Use new settings and pipelines from the next job on (config reload)."""
        with self._lock:
            self._next = (settings, pipelines)
        self._wake.set()

    def run(self) -> None:
        try:
            self._serve()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def _serve(self) -> None:
        store = Store(self.settings.db_path)
        extractor = self._extractor = SandboxedExtractor(
            self.settings.extract, self.settings.blob_dir, self.settings.plugins_dir, self.settings.ocr
        )
        processor = Processor(store, self.settings, self.pipelines, extractor)
        try:
            try:
                processor.resume_hooks()
            except Exception:  # never keeps the worker from its queue
                log.exception("could not catch up the document_processed hooks cut short by a stop")
            while not self._stopping.is_set():
                extractor, processor = self._apply_replacement(store, extractor, processor)
                jobs: list[Job] = []
                try:
                    if self.suspects:
                        jobs = store.jobs.claim_batch(1, document_ids=self.suspects[:1])
                        if not jobs:
                            self.suspects.pop(0)
                            continue
                    else:
                        jobs = store.jobs.claim_batch(self.settings.model.batch_documents)
                    if not jobs:
                        due = store.jobs.next_due()
                        self._wake.wait(None if due is None else max(0.0, due - time.time()))
                        self._wake.clear()
                        continue
                    self.current = jobs
                    processor.process_batch(jobs)
                    self.current = []
                except KeyboardInterrupt:
                    raise  # the thread ends; `current` tells the daemon what it held
                except BaseException as exc:  # a bug, a store failure (disk full...), a stray exit
                    self.current = []
                    log.exception("error in the worker; waiting %.0f s", ERROR_BACKOFF_S)
                    for job in jobs:
                        self._give_back(store, processor, job, exc)
                    self._stopping.wait(ERROR_BACKOFF_S)
        finally:
            extractor.close()
            store.close()

    @staticmethod
    def _give_back(store: Store, processor: Processor, job: Job, exc: BaseException) -> None:
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
        # a new child: the extract or ocr settings or the plugins (their extractors) may have changed
        extractor.close()
        extractor = self._extractor = SandboxedExtractor(settings.extract, settings.blob_dir, settings.plugins_dir, settings.ocr)
        old = self.pipelines
        self.settings, self.pipelines = settings, pipelines
        if old is not pipelines:
            old.close()
        return extractor, Processor(store, settings, pipelines, extractor)
