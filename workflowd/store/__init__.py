"""The SQLite store: the single source of truth for documents, jobs and results."""

from __future__ import annotations

from pathlib import Path

from .alerts import Alerts
from .corrections import Corrections
from .db import StoreDB, now_iso
from .documents import Documents, FoundFile
from .embeddings import Embeddings
from .jobs import Job, JobLost, Jobs
from .mail import Mail
from .migrations import SCHEMA_VERSION
from .model_versions import ModelVersions
from .outbox import Outbox
from .results import StepResults
from .rule_runs import RuleRuns
from .search import Filters, FullText
from .stats import Stats
from .surges import SurgeStreams
from .tags import Tags

__all__ = ["SCHEMA_VERSION", "Filters", "FoundFile", "Job", "JobLost", "Store", "now_iso"]


class Store(StoreDB):
    """One connection with the domain operations. Open one per thread."""

    def __init__(self, path: Path, *, migrate: bool = True):
        super().__init__(path, migrate=migrate)
        self.documents = Documents(self)
        self.jobs = Jobs(self)
        self.results = StepResults(self)
        self.embeddings = Embeddings(self)
        self.fulltext = FullText(self)
        self.stats = Stats(self)
        self.mail = Mail(self)
        self.corrections = Corrections(self)
        self.model_versions = ModelVersions(self)
        self.alerts = Alerts(self)
        self.tags = Tags(self)
        self.rule_runs = RuleRuns(self)
        self.surges = SurgeStreams(self)
        self.outbox = Outbox(self)
