"""The ``entities`` task: what a document names, with character offsets into its text.

Two kinds, merged into one list sorted by position:
- learned names, PER, ORG, LOC and MISC: a token tagger (workflowd/ner/). The one shipped
  with workflowd, trained on CoNLL-2003 (workflowd/artifacts/entities/MODEL_CARD.md), is a
  head on the shared pass of the multi-task encoder: no pass of its own. A trained version
  (files or corrections) has its own LoRA adapter: one more encoder pass per document;
- pattern entities that personal documents need: DATE (ISO 8601), MONEY (amount and
  currency), EMAIL, URL, PHONE (E.164) and IBAN (checksum-validated); see
  workflowd/entities/patterns.py. Where a pattern entity and a learned one overlap, the
  pattern entity wins (an e-mail address is not an organisation).

Retraining from corrections goes on from the tagger in use (its adapter and head, held close
to it by L2-SP) on the corrected names, with a replay of CoNLL documents it was trained on
(``replay_data``) or of uncorrected documents tagged by itself. A correction's list is taken
as complete for the learned types; the pattern types come from rules and are ignored there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..entities import PATTERN_TYPES, find_pattern_entities
from ..errors import DataError
from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..ner.bio import Span, tag_names
from ..ner.conll import TYPES as LEARNED_TYPES
from ..ner.conll import read_conll
from ..pipeline.step import Document, Step, StepContext, StepResult
from ..training.retrain import Candidate, Example, TaskRetrainer, repeats, sample
from .base import Task, Trained, TrainOptions
from .corrections import SpansCorrection

if TYPE_CHECKING:
    from ..training.common import Progress
    from ..training.entities import EntityParams

log = logging.getLogger("workflowd.tasks")
SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "entities"
ALL_TYPES = (*LEARNED_TYPES, *PATTERN_TYPES)

PSEUDO_DOCUMENTS_SHARE = 8  # pseudo-labelled documents: replay // this many (they are long)
PSEUDO_MAX_CHARS = 2000
MIN_PER_EPOCH = 64  # corrected documents shown per epoch, repeated when fewer
SHOWN_PER_TYPE = 10  # names of a type `workflowd show` lists (`show --json` has them all)
ANCHOR = 0.3  # L2-SP strength; benchmarks/forgetting_tasks.py measured 0, 0.1, 0.3, 1 and 10


class EntitiesSettings(BaseModel):
    """Settings of the ``entities`` step (``[steps.entities]``).

    Attributes:
        types: the types to find: learned PER, ORG, LOC, MISC and pattern DATE, MONEY,
            EMAIL, URL, PHONE, IBAN. Without a learned type the tagger does not run.
        min_confidence: learned entities below this confidence are left out.
        phone_region: a two-letter country code; national numbers of that country count as
            phone numbers too (without it, only international +... numbers do).
        day_first: read an ambiguous numeric date such as 01/03/2024 as 1 March.
    """

    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(default_factory=lambda: list(ALL_TYPES))
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    phone_region: str | None = None
    day_first: bool = True

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        unknown = sorted(set(types) - set(ALL_TYPES))
        if unknown:
            raise ValueError(f"unknown entity type(s) {', '.join(unknown)}; known: {', '.join(ALL_TYPES)}")
        return types

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"unknown phone region {region!r}; use a two-letter country code such as US or DE"
            )
        return region.upper() if region else None

    @property
    def learned(self) -> list[str]:
        return [t for t in self.types if t in LEARNED_TYPES]


class Entities(Step):
    """Find names of people, organisations, places and other things, and dates, amounts,
    addresses, links, phone numbers and IBANs."""

    name = "entities"
    description = (
        "people, organisations, places and other names; dates, money, e-mail addresses, URLs, "
        "phone numbers and IBANs; with offsets and normalised values"
    )
    Settings = EntitiesSettings

    def __init__(self, settings: EntitiesSettings, context: StepContext):
        super().__init__(settings, context)
        # only pattern types: no model, no task to load it
        self.task = EntitiesTask(context.settings, context.models, settings) if settings.learned else None

    def warm_up(self) -> None:
        """Load the tagger (none when only pattern types are asked for)."""
        if self.task is not None:
            self.task.model().get(self.context.models)

    def forks(self) -> frozenset[int]:
        """The shipped tagger reads the top layer of the shared pass; a trained one, nothing."""
        if self.task is None:
            return frozenset()
        return self.task.model().get(self.context.models).forks()

    def run(self, doc: Document) -> StepResult:
        return self.run_batch([doc])[0]

    def run_batch(self, docs: list[Document]) -> list[StepResult]:
        s = self.settings
        learned: list[list] = [[] for _ in docs]
        version = None
        if self.task is not None:
            tagger = self.task.model().get(self.context.models)
            version = tagger.version
            wanted = set(s.learned)
            texts = [d.text for d in docs]
            if tagger.shared and all(d.encoded is not None and tagger.top in d.encoded.fork_states for d in docs):
                found = tagger.predict_encoded(texts, [d.encoded for d in docs])
            else:
                found = tagger.predict(texts)
            for i, spans in enumerate(found):
                learned[i] = [sp for sp in spans if sp.type in wanted and sp.confidence >= s.min_confidence]
        pattern_types = tuple(t for t in s.types if t in PATTERN_TYPES)
        out = []
        for doc, spans in zip(docs, learned, strict=True):
            found = (
                [
                    e.as_dict()
                    for e in find_pattern_entities(
                        doc.text, types=pattern_types, phone_region=s.phone_region, day_first=s.day_first
                    )
                ]
                if pattern_types
                else []
            )
            taken = [(e["start"], e["end"]) for e in found]
            for sp in spans:
                if any(sp.start < b and a < sp.end for a, b in taken):
                    continue
                found.append(
                    {
                        "type": sp.type,
                        "start": sp.start,
                        "end": sp.end,
                        "text": doc.text[sp.start : sp.end],
                        "confidence": round(sp.confidence, 4),
                    }
                )
            found.sort(key=lambda e: (e["start"], e["end"]))
            counts: dict[str, int] = {}
            for e in found:
                counts[e["type"]] = counts.get(e["type"], 0) + 1
            # how sure the tagger is of the names it gave: that of its least sure one
            names = [e["confidence"] for e in found if e["type"] in LEARNED_TYPES]
            out.append(
                StepResult(
                    {"entities": found, "counts": counts},
                    model_version=version,
                    confidence=min(names) if names else None,
                )
            )
        return out


class EntitiesTask(Task):
    name = "entities"
    description = "names (PER, ORG, LOC, MISC) learnt from CoNLL-2003 and corrections; dates, money, contacts by rule"
    step = Entities
    correction = SpansCorrection()
    data_help = "CoNLL: one token per line with its BIO tag in the last column, a blank line between sentences"
    train_options = frozenset({"valid", "epochs", "lr", "batch_size", "seed"})
    epoch_metric = "val F1"

    def make_model(self) -> ModelInUse:
        from ..ner.tagger import load_tagger

        return self.saved_model(lambda folder, v: load_tagger(folder, self.models.encoder, version=v), SHIPPED)

    def train(self, options: TrainOptions, progress: Progress | None = None) -> Trained:
        """The tagger from a CoNLL file; ``--valid`` (else every 10th document) chooses the epoch."""
        if len(options.data) != 1:
            raise DataError("entities trains on one CoNLL file (--valid FILE chooses the epoch)")
        from ..training.entities import EntityParams, train_tagger

        docs = read_conll(options.data[0])
        if options.valid is not None:
            train, valid = docs, read_conll(options.valid)
        else:
            train = [d for i, d in enumerate(docs) if i % 10 != 9] or docs
            valid = [d for i, d in enumerate(docs) if i % 10 == 9]
        params = options.apply(EntityParams(seed=0))
        encoder = self.models.encoder
        outcome = train_tagger(encoder, train, valid, params, progress)
        meta = {
            **outcome.meta,
            "data_file": str(options.data[0]),
            "valid_file": str(options.valid) if options.valid else None,
            "history": outcome.history,
        }
        version, state = self.register(
            lambda folder: outcome.tagger.save(folder, outcome.adapter_model, {**meta, "metrics": outcome.metrics}),
            metrics=outcome.metrics,
            meta=meta,
            promote=options.promote,
        )
        m = outcome.metrics
        lines = [f"entities {version.version}: {state} ({outcome.meta['train_seconds']} s, "
                 f"{outcome.meta['train_documents']} documents, best epoch {outcome.meta['best_epoch']})"]
        if m:
            lines.append(f"validation: precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f}")
        return Trained(version, lines)

    def retrain_params(self, options: TrainOptions | None) -> EntityParams:
        """Going on from a trained tagger: a lower learning rate, two epochs, no validation split,
        and the weights held close to where they start (L2-SP)."""
        from ..training.entities import EntityParams

        params = EntityParams(epochs=2, lr=3e-4, head_lr=3e-4, warmup_share=0.1, anchor=ANCHOR)
        return options.apply(params) if options else params

    def evaluate(self, path: Path, *, version: str | None = None, sentences: int | None = None) -> dict[str, Any]:
        """Entity-level precision, recall and F1 (seqeval, exact spans) of the learned types, overall
        and per type, on a CoNLL file read document by document as the step reads a document."""
        from ..training.entities import evaluate_docs, prepare

        docs = read_conll(path)
        tagger = self.resolve(version)
        metrics = evaluate_docs(tagger, prepare(self.models.encoder, docs, tagger.tags))
        return {
            "task": self.name,
            "n": sum(len(d.sentences) for d in docs),
            "documents": len(docs),
            "model_version": tagger.version,
            "metrics": metrics,
        }

    def describe(self, data: dict[str, Any], confidence: float | None = None) -> list[str]:
        """Entities grouped by type, each once, whitespace folded: ``PER: Anna Schmidt; Tom``."""
        by_type: dict[str, list[str]] = {}
        for e in data.get("entities") or []:
            shown = e.get("value") if isinstance(e.get("value"), str) else e.get("text", "")
            shown = " ".join(str(shown).split())
            names = by_type.setdefault(e.get("type", "?"), [])
            if shown and shown not in names:
                names.append(shown)
        if not by_type:
            return ["none found"]
        return [
            f"{t}: {'; '.join(names[:SHOWN_PER_TYPE])}"
            + (f" (and {len(names) - SHOWN_PER_TYPE} more)" if len(names) > SHOWN_PER_TYPE else "")
            for t, names in by_type.items()
        ]


def learned_spans(value: dict[str, Any]) -> list[Span]:
    return [
        Span(int(e["start"]), int(e["end"]), e["type"], 1.0)
        for e in value.get("entities") or []
        if e.get("type") in LEARNED_TYPES
    ]


class EntitiesRetrainer(TaskRetrainer):
    task = "entities"
    score_name = "document F1"

    def usable(self, value: dict[str, Any]) -> bool:
        return isinstance(value.get("entities"), list)

    def current(self) -> tuple[Any, str]:
        tagger = EntitiesTask(self.settings, self.provider).resolve()
        return tagger, tagger.version or "shipped"

    def _replay(self, current: Any, tags: list[str]) -> tuple[list[Any], dict[str, Any]]:
        from ..training.entities import prepare, prepare_spans

        conf = self.settings.training
        files = conf.replay_data.get(self.task, [])
        if files:
            docs = []
            for path in files:
                found = read_conll(Path(path).expanduser())
                # a CoNLL "document" is an article; a sentence of 14 words on average
                docs += sample(found, max(1, conf.replay // 14 // len(files)), str(path))
            prepared = prepare(self.encoder, docs, tags)
            return prepared, {"data_files": [str(p) for p in files], "documents": len(docs)}
        if self.task not in conf.pseudo_rehearsal:
            return [], {"none": "no replay_data, and pseudo_rehearsal is off for this task"}
        texts = self.store.documents.texts_without_correction(
            self.task, conf.replay // PSEUDO_DOCUMENTS_SHARE, PSEUDO_MAX_CHARS
        )
        spans = current.predict(texts) if texts else []
        prepared = prepare_spans(self.encoder, list(zip(texts, spans, strict=True)), tags)
        return prepared, {"pseudo_labels": len(texts)}

    def train(self, train: list[Example], current: Any, progress: Progress | None = None) -> Candidate:
        from ..training.entities import prepare_spans, train_prepared

        tags = tag_names(LEARNED_TYPES)
        examples = prepare_spans(self.encoder, [(e.text, learned_spans(e.value)) for e in train], tags)
        replay, replay_meta = self._replay(current, tags)
        repeat = repeats(len(examples), len(replay), MIN_PER_EPOCH)
        outcome = train_prepared(
            self.encoder,
            examples * repeat + replay,
            [],
            self.params,
            progress,
            init=self.current_folder(SHIPPED),
        )

        def save(folder: Path, meta: dict[str, Any]) -> None:
            outcome.tagger.save(folder, outcome.adapter_model, {**meta, "metrics": outcome.metrics})

        meta = {
            **outcome.meta,
            "replay": replay_meta,
            "corrections_repeated": repeat,
            "data": {"n": len(examples) + len(replay)},
        }
        return Candidate(outcome.tagger, save, outcome.metrics, meta)

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        """Each document's F1 of exact spans (1 when neither finds a name)."""
        if not examples:
            return []
        found = model.predict([e.text for e in examples])
        out = []
        for spans, e in zip(found, examples, strict=True):
            truth = {(s.start, s.end, s.type) for s in learned_spans(e.value)}
            pred = {(s.start, s.end, s.type) for s in spans}
            if not truth and not pred:
                out.append(1.0)
            else:
                out.append(2 * len(truth & pred) / (len(truth) + len(pred)))
        return out

    def validation_data(self, paths: list[Path]) -> list[Example]:
        """CoNLL documents, their tags turned into character spans of the joined text."""
        out = []
        for path in paths:
            for i, doc in enumerate(read_conll(path)):
                text, word_spans = doc.text_and_spans()
                out.append(Example(f"{path}:{i}", text, {"entities": conll_entities(word_spans, doc.tags)}))
        return out


def conll_entities(word_spans: list[list[tuple[int, int]]], tags: list[list[str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row, row_tags in zip(word_spans, tags, strict=True):
        open_: dict[str, Any] | None = None
        for (a, b), tag in zip(row, row_tags, strict=True):
            if tag.startswith("I-") and open_ is not None and open_["type"] == tag[2:]:
                open_["end"] = b
                continue
            if open_ is not None:
                out.append(open_)
                open_ = None
            if tag != "O":
                open_ = {"type": tag[2:], "start": a, "end": b}
        if open_ is not None:
            out.append(open_)
    return out


EntitiesTask.retrainer = EntitiesRetrainer


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [EntitiesTask]


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Entities]
