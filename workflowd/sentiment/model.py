"""The sentiment model: a 3-way head over a sentence's pooled hidden states.

The shipped model reads the shared pass of the bundled multi-task encoder
(models/multitask.py): each sentence is the span of its tokens in the document's own windows,
the mean of the last two layers' states over it feeds the head, and no pass of its own is
needed. A model trained with ``workflowd train --task sentiment`` (or retrained from
corrections) is the shared encoder with its own LoRA adapter, one more pass over the
document's sentences, each read alone.

Sentence scores: probabilities of negative / neutral / positive, a label with its
probability as confidence, and ``score = p(positive) - p(negative)`` in [-1, 1].

A document is scored sentence by sentence (the model was trained on sentences; a
256-token window is not a sentence): its probabilities are the token-weighted mean of its
sentences' probabilities, so a long letter of neutral facts with one angry line stays
close to neutral, and the most negative and the most positive sentence are reported beside
it. Only the first ``max_sentences`` sentences are read (the cost of a huge file is bounded).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError
from ..models.encoder import Chunk, Encoder, pad_types, pad_windows
from ..sentences import Sentence, span_sums, split_sentences
from .data import LABELS

SENTENCE_TOKENS = 128
MAX_SENTENCES = 400


POOLS = ("layers", "mean")


class SentimentHead(torch.nn.Module):
    """``pool = "layers"``: reads the mean of the last two layers' states over the sentence's own
    tokens; ``"mean"`` (models trained before workflowd 0.x's multi-task encoder): the mean
    of the last layer over the whole window, special tokens included."""

    def __init__(self, dim: int, dropout: float = 0.1, pool: str = "layers"):
        super().__init__()
        if pool not in POOLS:
            raise ModelError(f"unknown sentiment pooling {pool!r}")
        self.pool = pool
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(2 * dim if pool == "layers" else dim, len(LABELS))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(pooled))


def sentence_chunks(encoder: Encoder, texts: Sequence[str]) -> list[Chunk]:
    """One window per text, cut at ``SENTENCE_TOKENS`` tokens."""
    sep = encoder.tokenizer.sep_token_id
    out = []
    for i, text in enumerate(texts):
        c = encoder.chunk(text, i, max_chunks=1)[0]
        if len(c.input_ids) > SENTENCE_TOKENS:
            keep = SENTENCE_TOKENS - 1
            c = Chunk(i, [*c.input_ids[:keep], sep], [*c.offsets[:keep], (0, 0)],
                      None if c.types is None else np.concatenate([c.types[:keep], [0]]))
        out.append(c)
    return out


def inner_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of each window's states over its tokens but [CLS] and [SEP]."""
    inner = mask.clone()
    inner[:, 0] = 0
    inner[torch.arange(len(mask)), mask.sum(1) - 1] = 0
    w = inner.unsqueeze(-1).to(states.dtype)
    return (states * w).sum(1) / w.sum(1).clamp(min=1)


def pooled_features(head: SentimentHead, last: torch.Tensor, hidden: Sequence[torch.Tensor],
                    mask: torch.Tensor) -> torch.Tensor:
    """What the head reads of a batch of sentences: ``hidden`` the last two layers' own states."""
    mask = mask.to(last.device)
    if head.pool == "layers":
        return torch.cat([inner_mean(hidden[0], mask), inner_mean(hidden[1], mask)], -1)
    m = mask.unsqueeze(-1).to(last.dtype)
    return (last * m).sum(1) / m.sum(1).clamp(min=1)


def chunk_logits(
    model: torch.nn.Module, head: SentimentHead, chunks: Sequence[Chunk], encoder: Encoder
) -> torch.Tensor:
    """Scores of sentences, one window each; keeps gradients."""
    ids, mask = pad_windows(chunks, encoder.pad_id)
    types = pad_types(chunks)
    out = model(input_ids=ids.to(encoder.device), attention_mask=mask.to(encoder.device),
                token_type_ids=None if types is None else types.to(encoder.device),
                output_hidden_states=head.pool == "layers")
    hidden = out.hidden_states[-2:] if head.pool == "layers" else ()
    return head(pooled_features(head, out.last_hidden_state, hidden, mask))


def score_of(probs: np.ndarray) -> np.ndarray:
    return probs[..., 2] - probs[..., 0]


@dataclass
class DocumentSentiment:
    probs: np.ndarray  # (3,)
    sentences: int
    most_negative: tuple[int, int, float] | None  # (start, end, score)
    most_positive: tuple[int, int, float] | None

    @property
    def label(self) -> str:
        return LABELS[int(self.probs.argmax())]

    @property
    def confidence(self) -> float:
        return float(self.probs.max())

    @property
    def score(self) -> float:
        return float(score_of(self.probs))


class SentimentModel:
    def __init__(
        self,
        encoder: Encoder,
        model: torch.nn.Module,
        head: SentimentHead,
        *,
        version: str | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.encoder, self.model, self.head = encoder, model, head
        self.version, self.meta = version, meta or {}
        self.runtime: Any = None  # ONNX Runtime for the fine-tuned encoder (inference only)
        # reads the shared pass (the shipped head on the multi-task encoder): no pass of its own
        self.shared = model is encoder.model and head.pool == "layers"

    @property
    def layers(self) -> tuple[int, int]:
        """The two layers whose hidden states the head pools."""
        top = int(self.model.config.num_hidden_layers)
        return top - 1, top

    def forks(self) -> frozenset[int]:
        """The layers of the shared pass the model reads (none when it runs its own pass)."""
        return frozenset(self.layers) if self.shared else frozenset()

    @torch.inference_mode()
    def sentence_probs(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) probabilities, batched by length."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        self.model.eval()
        self.head.eval()
        chunks = sentence_chunks(self.encoder, texts)
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].input_ids))
        out = np.zeros((len(chunks), len(LABELS)), dtype=np.float32)
        bs = max(self.encoder.settings.batch_size, 32)
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            logits = self._logits([chunks[i] for i in idx])
            out[idx] = torch.softmax(logits.float(), -1).cpu().numpy()
        return out

    def _logits(self, chunks: Sequence[Chunk]) -> torch.Tensor:
        onnx = self.encoder.onnx if self.shared else self.runtime
        if onnx is None:
            return chunk_logits(self.model, self.head, chunks, self.encoder)
        ids, mask = pad_windows(chunks, self.encoder.pad_id)
        types = pad_types(chunks)
        layers = frozenset(self.layers) if self.head.pool == "layers" else frozenset()
        if self.shared:
            got = self.encoder.trunk(ids, mask, layers, types)
        else:
            got = self.runtime.trunk(ids, mask, layers, token_types=types)
        if got is None:
            return chunk_logits(self.model, self.head, chunks, self.encoder)
        last, hidden = got
        return self.head(pooled_features(self.head, last, [hidden[k] for k in sorted(hidden)], mask))

    @torch.inference_mode()
    def encoded_probs(self, sentences: Sequence[Sentence], encoded: Any) -> np.ndarray:
        """(n, 3) probabilities of a document's sentences from its shared pass: each sentence
        pools the states of its own tokens in the document's windows (averaged where windows
        overlap). A sentence beyond the windows read is scored alone."""
        low, high = self.layers
        both = [np.concatenate([a, b], -1) for a, b in zip(encoded.fork_states[low], encoded.fork_states[high],
                                                             strict=True)]
        sums, counts = span_sums(sentences, encoded.chunks, both)
        out = np.zeros((len(sentences), len(LABELS)), dtype=np.float32)
        seen = counts > 0
        if seen.any():
            feats = torch.from_numpy(sums[seen] / counts[seen, None]).to(self.encoder.device)
            out[seen] = torch.softmax(self.head(feats).float(), -1).cpu().numpy()
        missing = np.flatnonzero(~seen)
        if len(missing):
            out[missing] = self.sentence_probs([sentences[i].text for i in missing])
        return out

    def documents(
        self,
        texts: Sequence[str],
        max_sentences: int = MAX_SENTENCES,
        sentences: Sequence[Sequence[Sentence]] | None = None,
        encoded: Sequence[Any] | None = None,
    ) -> list[DocumentSentiment]:
        """Each document's sentiment from its sentences (``sentences``: those to read, e.g. a
        mail's without its quotes; by default all of the text's). ``encoded``: the documents'
        shared pass, which a shared model reads instead of a pass of its own."""
        per_doc = []
        for i, text in enumerate(texts):
            sents = list(split_sentences(text) if sentences is None else sentences[i])[:max_sentences]
            per_doc.append(sents)
        if encoded is not None and self.shared:
            parts = [self.encoded_probs(sents, enc) if sents else np.zeros((0, len(LABELS)), dtype=np.float32)
                     for sents, enc in zip(per_doc, encoded, strict=True)]
            probs = np.concatenate(parts) if parts else np.zeros((0, len(LABELS)), dtype=np.float32)
        else:
            probs = self.sentence_probs([s.text for sents in per_doc for s in sents])
        out, at = [], 0
        for sents in per_doc:
            p = probs[at : at + len(sents)]
            at += len(sents)
            if not len(sents):
                out.append(DocumentSentiment(np.array([0.0, 1.0, 0.0], dtype=np.float32), 0, None, None))
                continue
            weights = np.array([len(s.text) for s in sents], dtype=np.float32)
            doc = (p * weights[:, None]).sum(0) / weights.sum()
            scores = score_of(p)
            lo, hi = int(scores.argmin()), int(scores.argmax())
            out.append(
                DocumentSentiment(
                    doc,
                    len(sents),
                    (sents[lo].start, sents[lo].end, float(scores[lo])) if scores[lo] < 0 else None,
                    (sents[hi].start, sents[hi].end, float(scores[hi])) if scores[hi] > 0 else None,
                )
            )
        return out

    def save(self, folder: Path, adapter_model: torch.nn.Module, meta: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        adapter_model.save_pretrained(str(folder / "adapter"))
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            str(folder / "head.safetensors"),
        )
        (folder / "meta.json").write_text(
            json.dumps({**meta, "labels": list(LABELS), "pool": self.head.pool}, indent=2) + "\n")


def load_sentiment(folder: Path, encoder: Encoder, *, version: str | None = None) -> SentimentModel:
    """A saved model: a head on the shared multi-task pass (the shipped one), or a copy of the
    shared encoder with the model's own adapter merged in (one more pass over the sentences)."""
    from safetensors.torch import load_file

    from ..models.multitask import task_model

    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        state = load_file(str(folder / "head.safetensors"))
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot load the sentiment model in {folder}: {exc}") from None
    shared = bool(meta.get("shared"))
    model = task_model(encoder, folder, meta, "sentiment model", "sentiment")
    head = SentimentHead(encoder.dim, pool=meta.get("pool", "mean"))
    head.load_state_dict(state)
    model.to(encoder.device).eval()
    head.to(encoder.device).eval()
    loaded = SentimentModel(encoder, model, head, version=version, meta=meta)
    if not shared:
        loaded.runtime = encoder.runtime_for(lambda: model, token_types=encoder.typed)
    return loaded
