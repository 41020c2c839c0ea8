"""The daemon: watches the sources, records what arrives, and feeds the worker.

The main thread sleeps until the next thing it has to do (a file to settle, a rescan) or
until an event, a signal or the worker wakes it: an idle daemon does no work between rescans.
A thread that dies wakes it too, and is restarted (daemon/supervise.py). Signal handlers only
set flags. The daemon's files are private (privacy.py), and it tells whoever started it when
it is ready or why it is not (daemon/readiness.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from ..alerts.delivery import DeliveryThread
from ..alerts.make import OUTBOX_CHANGED
from ..config import Settings, load_config
from ..errors import StoreError, WorkflowdError
from ..extract.ocr import check_tesseract
from ..filenames import display
from ..intake import FileChanged
from ..logs import setup_logging
from ..pipeline import Pipelines
from ..privacy import private_umask, secure_data_dir
from ..runtime import build_pipelines, check_base_model, needs_base_model, retrainable
from ..sources.folder import FolderSource, new_observer
from ..sources.imap import ImapSource
from ..sources.maildir import MaildirSource
from ..store import Store
from .pidfile import PidFile
from .readiness import Readiness
from .retraining import Retraining
from .supervise import RestartBudget, RestartsExhausted, thread_hook
from .warmup import WarmUp
from .worker import Worker

log = logging.getLogger("workflowd.daemon")

ERROR_BACKOFF_S = 5.0


def _left(deadline: float, cap: float | None = None) -> float:
    """Seconds until ``deadline`` (never below a short grace), at most ``cap``."""
    left = max(0.5, deadline - time.monotonic())
    return left if cap is None else min(cap, left)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        config_arg: str | None = None,
        log_to_stderr: bool = True,
        clock: Callable[[], float] = time.monotonic,
        readiness: Readiness | None = None,
    ):
        self.settings = settings
        self.config_arg = config_arg
        self.log_to_stderr = log_to_stderr
        self.clock = clock
        self._wake = threading.Event()
        self._stop = False
        self._reload = False
        self._rescan_now = False
        self.readiness = readiness or Readiness()
        self.restarts = RestartBudget(clock=clock)
        self.sources: list[FolderSource] = []  # folders and Maildirs: watched by the main loop
        self.mail_sources: list[ImapSource] = []  # one thread each
        self._warm_ups = 0  # warm-ups started: only the latest one's end makes the daemon ready

    # -- signals ---------------------------------------------------------------------------

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True
        self._wake.set()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True
        self._wake.set()

    def _on_outbox(self, signum: int, frame: FrameType | None) -> None:
        # another process changed the outbox (`workflowd alerts retry`, ingest) or the queue (`retry`)
        OUTBOX_CHANGED.set()
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.wake()

    # -- life cycle ------------------------------------------------------------------------

    def run(self) -> None:
        """Run until SIGTERM/SIGINT. Raises AlreadyRunningError, ConfigError, PluginError,
        ModelError, StoreError, or DaemonError when a part keeps dying. The reason it could not
        start (or had to stop) is logged and sent to ``readiness``."""
        settings = self.settings
        # First of all: a reload or stop asked for while the models load (seconds) must not
        # kill the process with the signal's default action; the loop acts on it once running.
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.signal(signal.SIGUSR1, self._on_outbox)
        private_umask()  # whatever umask started us: the data dir and all in it are the owner's
        try:
            try:
                tightened = secure_data_dir(settings.data_dir)
                setup_logging(settings.log_level, settings.log_path, stderr=self.log_to_stderr)
            except OSError as exc:
                raise StoreError(f"cannot use the data dir {settings.data_dir}: {exc.strerror or exc}") from None
        except BaseException as exc:
            self.readiness.failed(exc)
            raise
        for path in tightened:
            log.info("made %s private (readable by its owner only)", display(path))
        started = False
        previous_hook = threading.excepthook
        threading.excepthook = thread_hook(self._wake.set)
        pidfile = self.pidfile = PidFile(settings.pid_path)
        try:
            pidfile.acquire(
                {
                    "pid": os.getpid(),
                    "started": time.time(),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "config": str(settings.file) if settings.file else None,
                    "ready": False,  # true once the models are loaded (warm-up)
                }
            )
            self.store = Store(settings.db_path)
            try:
                self._start(settings)
                started = True
                self.readiness.ready(pid=os.getpid())
                self._loop()
            finally:
                self._shutdown()
                self.store.close()
        except BaseException as exc:
            pidfile.release()  # before the answer: `workflowd start` may be run again at once
            if isinstance(exc, WorkflowdError):
                log.error("workflowd %s: %s", "stops" if started else "cannot start", exc)
            elif not isinstance(exc, KeyboardInterrupt):
                log.exception("workflowd %s on an unexpected error", "stops" if started else "cannot start")
            self.readiness.failed(exc)
            raise
        finally:
            pidfile.release()
            threading.excepthook = previous_hook
            log.info("workflowd stopped")

    def _start(self, settings: Settings) -> None:
        """Everything the daemon needs, in order; raises on the first thing that is not right."""
        recovered = self.store.jobs.recover()
        if recovered:
            log.warning("re-queued %d job(s) left running by a process that died", recovered)
        pipelines = build_pipelines(settings)
        if needs_base_model(pipelines):
            log.info("base model: %s", check_base_model(settings))
        _warn_if_ocr_cannot_run(settings)
        self.worker = Worker(settings, pipelines, on_exit=self._wake.set)
        self._start_web(settings)
        self.retraining = Retraining(
            settings, self.config_arg, on_done=self._wake_worker, tasks=retrainable(pipelines)
        )
        self.retraining.start()
        self.observer = new_observer(on_exit=self._wake.set)
        self.observer.start()
        self.sources = self._start_sources(settings)
        self.worker.start()
        self._warm_up(pipelines)
        self.delivery = DeliveryThread(lambda: self.settings, on_exit=self._wake.set)
        self.delivery.start()
        log.info(
            "workflowd started (pid %d); watching %s; pipelines: %s",
            os.getpid(),
            self._watching() or "nothing",
            "; ".join(f"{p.name}: {p.step_names}" for p in pipelines.pipelines.values()),
        )

    def _start_web(self, settings: Settings) -> None:
        """The local page and JSON API (``[web]``), its port bound now: a port in use stops the start."""
        self.web = None
        if not settings.web.enabled:
            self.pidfile.update(web_url=None)
            return
        from ..web.server import WebServer
        from . import control

        def encode(query: str) -> object:  # the worker's encoder: the one that made the stored embeddings
            return self.worker.pipelines.context.models.encoder.encode_texts([query])[0]

        self.web = WebServer(settings, encode=encode, status=lambda: control.status(settings))
        self.web.bind()
        self.web.start()
        self.pidfile.update(web_url=self.web.url)

    def _warm_up(self, pipelines: Pipelines) -> None:
        """Load the models in the background; the pidfile (``status``) says ``ready`` once done."""
        self._warm_ups += 1
        number = self._warm_ups
        self.pidfile.update(ready=False)

        def done(seconds: float) -> None:
            if number != self._warm_ups:
                return  # a reload started another warm-up: that one says when it is ready
            log.info("ready: models loaded in %.1f s", seconds)
            changes: dict[str, object] = {"ready": True}
            if "ready_seconds" not in self.pidfile.info:  # from the daemon's start: the first time only
                changes["ready_seconds"] = round(time.time() - self.pidfile.info["started"], 1)
            self.pidfile.update(**changes)

        WarmUp(pipelines, done).start()

    def _wake_worker(self) -> None:
        self.worker.wake()  # whichever worker runs now: a dead one is replaced

    # -- keeping the threads alive ---------------------------------------------------------

    def _supervise(self) -> None:
        """Restart a worker, observer or IMAP thread that died; raises RestartsExhausted when
        one keeps dying."""
        if self._stop:
            return
        if not self.worker.is_alive() and not self.worker.stopping:
            self.restarts.spend("the worker thread")
            requeued = self.store.jobs.recover(this_process=True)
            log.error("the worker thread died; re-queued %d job(s) it held and started another", requeued)
            self.worker = self.worker.successor()
            self.worker.start()
        if not self.observer.is_alive():
            self.restarts.spend("the folder watcher")
            log.error("the folder watcher thread died; starting another")
            self.observer = new_observer(on_exit=self._wake.set)
            self.observer.start()
            for source in self.sources:
                source.stop()
                source.start(self.observer)
            self._rescan_now = True  # what it missed meanwhile
        if not self.delivery.is_alive() and not self.delivery.stopping:
            self.restarts.spend("the delivery thread")
            log.error("the delivery thread died; starting another")
            self.delivery = DeliveryThread(lambda: self.settings, on_exit=self._wake.set)
            self.delivery.start()
        for imap in self.mail_sources:
            if not imap.alive and not imap.stopping:
                self.restarts.spend(f"the thread of IMAP source {imap.name}")
                log.error("the thread of IMAP source %s died; starting another", imap.name)
                imap.start()

    def _start_sources(self, settings: Settings) -> list[FolderSource]:
        sources: list[FolderSource] = []
        self.mail_sources = []
        for conf in settings.sources:
            if conf.type == "imap":
                imap = ImapSource(conf, settings, on_new=self._wake_worker, on_exit=self._wake.set)
                imap.start()
                self.mail_sources.append(imap)
                continue
            kind = MaildirSource if conf.type == "maildir" else FolderSource
            source = kind(conf, wake=self._wake.set, skip_dirs=(settings.data_dir,), clock=self.clock)
            source.start(self.observer)
            sources.append(source)
        return sources

    def _stop_sources(self) -> None:
        for source in self.sources:
            source.stop()
        for imap in self.mail_sources:
            imap.stop()

    def _watching(self) -> str:
        return ", ".join([str(s.root) for s in self.sources] + [f"{m.name} {m.conf.folders}" for m in self.mail_sources])

    def _shutdown(self) -> None:
        """Stop every part within ``daemon.stop_timeout`` in all (the time ``workflowd stop``
        allows, with a margin): the worker gets what the others left of it."""
        deadline = time.monotonic() + self.settings.daemon.stop_timeout
        web = getattr(self, "web", None)
        if web is not None:
            self._ended("the web page", lambda: web.stop(timeout=_left(deadline, cap=5.0)), web)
        delivery = getattr(self, "delivery", None)
        if delivery is not None:
            delivery.stop()  # it ends after the try in flight, if any; what is pending waits in the outbox
        if getattr(self, "retraining", None) is not None:
            self.retraining.stop()
        self._stop_sources()
        observer = getattr(self, "observer", None)
        if observer is not None:
            observer.stop()
            self._ended("the folder watcher", lambda: observer.join(timeout=_left(deadline, cap=5.0)), observer)
        if delivery is not None:
            self._ended("the delivery thread", lambda: delivery.join(timeout=_left(deadline)), delivery)
        worker = getattr(self, "worker", None)
        if worker is None or not worker.is_alive():
            return
        if worker.current:
            log.info("stopping: waiting up to %.0f s for %d document(s)", _left(deadline), len(worker.current))
        worker.stop()
        worker.join(timeout=_left(deadline))
        if worker.is_alive():
            for job in list(worker.current):
                if self.store.jobs.requeue(job):
                    log.warning("re-queued document %s; it will be processed at the next start", job.document_id)
            worker.abort()

    @staticmethod
    def _ended(what: str, join: Callable[[], None], thread: threading.Thread | None = None) -> None:
        """Wait for one part to end (``join``); log it when that took long or it did not end."""
        started = time.monotonic()
        join()
        took = time.monotonic() - started
        if thread is not None and thread.is_alive():
            log.warning("stopping: %s did not end within %.1f s; going on without it", what, took)
        elif took > 2.0:
            log.info("stopping: %s took %.1f s to end", what, took)

    # -- the loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        next_rescan = self.clock()
        while not self._stop:
            try:
                self._supervise()
                if self._reload:
                    self._reload = False
                    next_rescan = self._do_reload(next_rescan)
                now = self.clock()
                if now >= next_rescan or self._rescan_now:
                    self._rescan_now = False
                    self._rescan()
                    self.retraining.check(self.store)
                    self.worker.wake()  # jobs queued by another process (a promotion's re-runs)
                    next_rescan = now + self.settings.daemon.rescan_interval
                for source in self.sources:
                    if source.rescan_due():  # lost events, or a flood larger than its window
                        self._rescan_source(source)
                self._take_ready()
                for source in self.sources:
                    source.after_processing(self.store)
                deadlines = [next_rescan] + [t for s in self.sources if (t := s.next_check()) is not None]
                deadlines += [t for s in self.sources if (t := s.due()) is not None]
                timeout = max(0.0, min(deadlines) - self.clock())
                if any(s.rescan_due() for s in self.sources):
                    timeout = 0.0  # taking emptied the window of a folder with files left on disk
            except RestartsExhausted:
                raise
            except Exception:  # e.g. the disk is full: log it and keep the daemon alive
                log.exception("error in the main loop; retrying in %.0f s", ERROR_BACKOFF_S)
                timeout = ERROR_BACKOFF_S
            self._wake.wait(timeout)
            self._wake.clear()

    def _rescan(self) -> None:
        for source in self.sources:
            self._rescan_source(source)

    def _rescan_source(self, source: FolderSource) -> None:
        try:
            found = source.scan(source.known(self.store))
        except Exception:  # one source's failure does not stop the others
            log.exception("rescan of %s failed", display(source.root))
            return
        if found:
            log.info("rescan of %s found %d new file(s)", display(source.root), found)

    def _take_ready(self) -> None:
        for source in self.sources:
            try:
                ready = source.ready(source.known(self.store))
            except Exception:
                log.exception("cannot look at the files waiting in %s", display(source.root))
                continue
            for path in ready:
                self._take(source, path)

    def _take(self, source: FolderSource, path: Path) -> None:
        """Take one file; whatever goes wrong with it is logged and costs that file only."""
        shown = display(path)
        try:
            doc_id, created = source.take(self.store, self.settings, path)
        except FileChanged:
            source.retry_later(path)
            return
        except FileNotFoundError:
            source.taken(path)
            return  # removed before it could be read; nothing to take
        except OSError as exc:
            source.taken(path)
            log.warning("cannot read %s: %s", shown, display(str(exc)))
            return
        except Exception:  # the store failed (disk full...): try again a few times, then at a rescan
            again = source.failed(path)
            log.exception("cannot record %s; %s", shown,
                          "trying again shortly" if again else "looking again at the next rescan")
            return
        source.taken(path)
        if created:
            log.info("queued %s as document %d", shown, doc_id)
            self.worker.wake()
        else:
            log.info("%s has the same content as document %d; recorded as another location", shown, doc_id)

    def _do_reload(self, next_rescan: float) -> float:
        log.info("reloading the configuration (SIGHUP)")
        try:
            new = load_config(self.config_arg)
            if new.data_dir != self.settings.data_dir:
                log.warning("data_dir changed to %s: restart workflowd to use it; keeping %s",
                            new.data_dir, self.settings.data_dir)
                new.data_dir = self.settings.data_dir
            pipelines = build_pipelines(new, previous=self.worker.pipelines)
        except WorkflowdError as exc:
            log.error("the new configuration was not applied; keeping the running one:\n%s", exc)
            return next_rescan
        setup_logging(new.log_level, new.log_path, stderr=self.log_to_stderr)
        self._stop_sources()
        self.settings = new
        _warn_if_ocr_cannot_run(new)
        self.worker.replace(new, pipelines)
        self._warm_up(pipelines)
        self.sources = self._start_sources(new)
        if new.training != self.retraining.settings.training:
            self.retraining.stop()
            self.retraining = Retraining(
                new, self.config_arg, on_done=self._wake_worker, tasks=retrainable(pipelines)
            )
            self.retraining.start()
        else:
            self.retraining.tasks = retrainable(pipelines)  # a plugin task may have come or gone
        log.info("configuration reloaded; watching %s", self._watching() or "nothing")
        return self.clock()  # rescan now: new folders may hold files already


def _warn_if_ocr_cannot_run(settings: Settings) -> None:
    """Say in the log, at start and at each reload, why scans will fail (Tesseract or one of
    ``ocr.languages`` missing); the daemon runs on, and each scan fails with the reason."""
    if settings.ocr.enabled and (problem := check_tesseract(settings.ocr)):
        log.warning("%s; until then images and scanned PDF pages fail with this reason", problem)
