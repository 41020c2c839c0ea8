"""One claimed job to stored results: extract the text, run the pipeline, commit it all at once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .blobs import blob_path
from .config import Settings
from .errors import ContentChanged, ExtractionCrashed, ExtractionError
from .extract import Extraction, SandboxedExtractor, detect_media_type
from .filenames import display
from .intake import HEAD, size_error
from .pipeline import Document, Pipelines, StepOutcome
from .store import FoundFile, Job, JobLost, Store

log = logging.getLogger("workflowd.processing")


class Processor:
    def __init__(self, store: Store, settings: Settings, pipelines: Pipelines, extractor: SandboxedExtractor):
        self.store = store
        self.settings = settings
        self.pipelines = pipelines
        self.extractor = extractor

    def retry_delay(self, attempts: int) -> float:
        conf = self.settings.jobs
        return min(conf.retry_delay * 2 ** max(attempts - 1, 0), conf.retry_delay_max)

    def process(self, job: Job) -> str:
        """Process one job; returns the document's status afterwards (done, queued or failed)."""
        return self.process_batch([job])[0]

    def process_batch(self, jobs: list[Job]) -> list[str]:
        """Process claimed jobs: extract each, run each pipeline once over its documents (batched
        model calls), then store each document in its own transaction."""
        statuses: dict[int, str] = {}
        repredict = [job for job in jobs if job.repredict]
        if repredict:
            statuses.update(self._repredict(repredict))
        ready: dict[str, list[tuple[Job, dict[str, Any], Extraction, Document]]] = {}
        for job in jobs:
            if job.repredict:
                continue
            doc = self.store.documents.get(job.document_id)
            if doc is None:  # cannot happen through the store's API; do not loop on it
                self.store.jobs.fail(job, "document row is missing", retry=False)
                statuses[job.id] = "failed"
                continue
            try:
                extraction = self._extract(doc)
            except ExtractionCrashed as exc:
                statuses[job.id] = self._fail(job, doc, str(exc), retry=True)
                continue
            except ExtractionError as exc:
                statuses[job.id] = self._fail(job, doc, str(exc), retry=False)
                continue
            except OSError as exc:  # file gone for now, unreadable, disk trouble: try again later
                statuses[job.id] = self._fail(job, doc, f"cannot read the file: {exc}", retry=True)
                continue
            view = Document(
                id=doc["id"],
                text=extraction.text,
                title=extraction.title,
                media_type=extraction.media_type,
                source=doc["source"],
                path=doc["path"],
                name=doc["name"],
                parent_id=doc["parent_id"],
                meta=extraction.meta,
            )
            ready.setdefault(job.pipeline, []).append((job, doc, extraction, view))
        for pipeline_name, items in ready.items():
            all_outcomes = self.pipelines.get(pipeline_name).run_batch([view for *_, view in items])
            for (job, doc, extraction, view), outcomes in zip(items, all_outcomes, strict=True):
                statuses[job.id] = self._store(job, doc, extraction, view, outcomes)
        return [statuses[job.id] for job in jobs]

    def _store(
        self, job: Job, doc: dict[str, Any], extraction: Extraction, view: Document, outcomes: list[StepOutcome]
    ) -> str:
        """The document's text, its step results, its attachments and the job's end: one transaction."""
        try:
            with self.store.transaction():
                self.store.jobs.complete(job)
                self.store.documents.set_extracted(
                    doc["id"],
                    media_type=extraction.media_type,
                    title=extraction.title,
                    text=extraction.text,
                    meta=extraction.meta,
                )
                for outcome in outcomes:
                    r = outcome.result
                    self.store.results.save(
                        doc["id"],
                        outcome.step,
                        data=r.data if r else None,
                        confidence=r.confidence if r else None,
                        model_version=r.model_version if r else None,
                        needs_review=r.needs_review if r else False,
                        error=outcome.error,
                    )
                if view.encoded is not None:
                    self.store.embeddings.save(doc["id"], self.settings.model.base, view.encoded.embedding)
                self._add_attachments(doc, job, extraction)
                if self._hooks():
                    self.store.documents.set_hooks_pending(doc["id"], True)
        except JobLost as exc:
            log.warning("%s; its results were dropped", exc)
            return "queued"
        failed_steps = [o.step for o in outcomes if o.error]
        log.info(
            "processed document %s (%s, %s)%s",
            doc["id"],
            doc["name"],
            extraction.media_type,
            f"; failed steps: {', '.join(failed_steps)}" if failed_steps else "",
        )
        self._processed(view)
        return "done"

    def _hooks(self) -> list[Any]:
        plugins = self.pipelines.plugins
        return plugins.hook.document_processed.get_hookimpls() if plugins is not None else []

    def resume_hooks(self) -> int:
        """Run the hooks of documents stored before a crash cut their hooks short (rules run once
        per document whatever happens, so those that ran are not run again); returns how many."""
        ids = self.store.documents.hooks_pending()
        for doc_id in ids:
            doc = self.store.documents.get(doc_id)
            if doc is None:
                continue
            self._processed(Document(
                id=doc["id"], text=doc["text"] or "", title=doc["title"], media_type=doc["media_type"],
                source=doc["source"], path=doc["path"], name=doc["name"], parent_id=doc["parent_id"],
                meta=doc["meta"],
            ))
        if ids:
            log.warning("ran the document_processed hooks (rules, surges) of %d document(s) a stop cut short", len(ids))
        return len(ids)

    def _processed(self, view: Document) -> None:
        """Run the plugins' ``document_processed`` hooks, each on its own: one that raises is
        logged and the others still run (the document is stored whatever they do)."""
        impls = self._hooks()
        if not impls:
            return
        given = {
            "document": view,
            "results": self.store.results.for_document(view.id),
            "store": self.store,
            "settings": self.settings,
        }
        for impl in reversed(impls):  # pluggy's own order: tryfirst first, then the last registered
            try:
                impl.function(**{name: given[name] for name in impl.argnames})
            except Exception:
                log.exception("plugin %s failed in document_processed for document %s", impl.plugin_name, view.id)
        with self.store.transaction():
            self.store.documents.set_hooks_pending(view.id, False)

    def _repredict(self, jobs: list[Job]) -> dict[int, str]:
        """Re-run one step on stored text (no extraction); the new result replaces the old one.

        A step that fails now keeps the document's earlier result, and the job ends failed."""
        statuses: dict[int, str] = {}
        groups: dict[tuple[str, str], list[tuple[Job, Document]]] = {}
        for job in jobs:
            doc = self.store.documents.get(job.document_id)
            pipeline = self.pipelines.get(job.pipeline)
            if doc is None or doc["text"] is None or job.step not in pipeline.step_names:
                # gone, never extracted, or the step left the pipeline since: nothing to re-run
                with self.store.transaction():
                    self.store.jobs.complete(job)
                statuses[job.id] = "done"
                continue
            earlier = self.store.results.for_document(doc["id"])
            view = Document(
                id=doc["id"],
                text=doc["text"],
                title=doc["title"],
                media_type=doc["media_type"],
                source=doc["source"],
                path=doc["path"],
                name=doc["name"],
                parent_id=doc["parent_id"],
                meta=doc["meta"],
                results={k: r["data"] for k, r in earlier.items() if r["data"] is not None and k != job.step},
            )
            groups.setdefault((pipeline.name, job.step), []).append((job, view))
        for (pipeline_name, step), items in groups.items():
            outcomes = self.pipelines.get(pipeline_name).run_batch([v for _, v in items], only=step)
            for (job, view), (outcome, *_) in zip(items, outcomes, strict=True):
                if outcome.error:
                    statuses[job.id] = "failed"
                    try:
                        self.store.jobs.fail(job, outcome.error, retry=False)
                    except JobLost as exc:
                        log.warning("%s", exc)
                    log.warning("re-running %s on document %s failed: %s; its earlier result stays",
                                step, view.id, outcome.error)
                    continue
                r = outcome.result
                try:
                    with self.store.transaction():
                        self.store.jobs.complete(job)
                        self.store.results.save(
                            view.id, step, data=r.data, confidence=r.confidence,
                            model_version=r.model_version, needs_review=r.needs_review,
                        )
                except JobLost as exc:
                    log.warning("%s; its results were dropped", exc)
                    statuses[job.id] = "queued"
                    continue
                statuses[job.id] = "done"
            log.info("re-ran %s on %d document(s) with the model now in use", step, len(items))
        return statuses

    def _extract(self, doc: dict[str, Any]) -> Extraction:
        """Extract from the first location that still holds the document's content; mail and
        attachments are kept in the blob store, which is tried last."""
        paths = self.store.documents.file_paths(doc["id"]) or [Path(doc["path"])]  # exact bytes, not display
        blob = blob_path(self.settings.blob_dir, doc["sha256"])
        if blob.is_file():  # otherwise the error names the document's own place, not the blob's
            paths.append(blob)
        last: Exception | None = None
        for path in paths:
            if not path.is_file():
                last = FileNotFoundError(f"{display(path)} is gone")
                continue
            try:
                return self.extractor.extract(path, expected_sha256=doc["sha256"])
            except ContentChanged as exc:
                last = exc
        # Gone or changed everywhere: maybe moved and not yet seen at its new place; retry later.
        raise OSError(str(last))

    def _fail(self, job: Job, doc: dict[str, Any], error: str, *, retry: bool) -> str:
        delay = self.retry_delay(job.attempts)
        try:
            again = self.store.jobs.fail(job, error, retry=retry, delay=delay)
        except JobLost as exc:
            log.warning("%s", exc)
            return "queued"
        if again:
            log.warning(
                "document %s (%s): %s; try %d of %d again in %.0f s",
                doc["id"], doc["name"], error, job.attempts + 1, job.max_attempts, delay,
            )
            return "queued"
        log.error("document %s (%s) failed: %s", doc["id"], doc["name"], error)
        return "failed"

    def _add_attachments(self, doc: dict[str, Any], job: Job, extraction: Extraction) -> None:
        for att in extraction.attachments:
            found = FoundFile(
                source=doc["source"],
                path=att.path,
                name=att.name,
                sha256=att.sha256,
                size=att.size,
                media_type=_sniff(Path(att.path), att.name),
            )
            self.store.documents.add(
                found,
                pipeline=job.pipeline,
                max_attempts=self.settings.jobs.max_attempts,
                parent_id=doc["id"],
                error=size_error(att.size, self.settings),
            )


def _sniff(path: Path, name: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
    except OSError:
        return None
    return detect_media_type(head, name) if head else None
