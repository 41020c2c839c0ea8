"""The sentiment model: a branch of the shared encoder (its own copy of the top layer,
fine-tuned; workflowd/models/branch.py) and a 3-way head on each sentence's mean state.

Sentence scores: probabilities of negative / neutral / positive, a label with its
probability as confidence, and ``score = p(positive) - p(negative)`` in [-1, 1].

A document is scored sentence by sentence (the model was trained on sentences; a
256-token window is not a sentence), each sentence read as the span of its tokens in the
document's own windows: the shared pass gives the hidden states at the fork, the branch runs
its layer over the windows once, and each sentence's states are pooled. The document's
probabilities are the length-weighted mean of its sentences' probabilities, so a long letter of neutral facts with one angry line stays
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
from ..models.branch import Branch, hidden_at
from ..models.encoder import Chunk, Encoded, Encoder, pad_windows
from ..sentences import Sentence, split_sentences
from .data import LABELS

SENTENCE_TOKENS = 128
MAX_SENTENCES = 400


class SentimentHead(torch.nn.Module):
    def __init__(self, dim: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(dim, len(LABELS))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(pooled))


def sentence_chunks(encoder: Encoder, texts: Sequence[str]) -> list[Chunk]:
    """One window per text, cut at ``SENTENCE_TOKENS`` tokens."""
    cls, sep = encoder.tokenizer.cls_token_id, encoder.tokenizer.sep_token_id
    enc = encoder.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)
    return [Chunk(i, [cls, *ids[: SENTENCE_TOKENS - 2], sep], []) for i, ids in enumerate(enc["input_ids"])]


def inner_mask(mask: torch.Tensor) -> torch.Tensor:
    """The attention mask without each window's [CLS] and [SEP]: a sentence is its own words."""
    inner = mask.clone()
    inner[:, 0] = 0
    inner[torch.arange(len(mask)), mask.sum(1) - 1] = 0
    return inner


def chunk_logits(
    branch: Branch, head: SentimentHead, chunks: Sequence[Chunk], encoder: Encoder, run: Any = None
) -> torch.Tensor:
    """Scores of sentences, one per window (training keeps gradients in the branch and head)."""
    ids, mask = pad_windows(chunks, encoder.pad_id)
    ids, mask = ids.to(encoder.device), mask.to(encoder.device)
    if run is None:  # training: the frozen layers below the fork in torch, the branch with gradients
        with torch.no_grad():
            hidden = hidden_at(encoder.model, ids, mask, branch.fork)
        states = branch(hidden, mask)
    else:
        hidden = encoder.trunk(ids, mask, frozenset({branch.fork}))[1][branch.fork]
        states = run(branch, hidden, mask)
    m = inner_mask(mask).unsqueeze(-1).to(states.dtype)
    return head((states * m).sum(1) / m.sum(1).clamp(min=1))


def span_means(
    chunks: Sequence[Chunk], states: Sequence[np.ndarray], spans: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean state of the tokens that start inside each (start, end) character span, over all
    windows; and how many tokens each had (0: beyond the windows read)."""
    dim = states[0].shape[-1] if len(states) else 0
    sums = np.zeros((len(spans), dim), dtype=np.float32)
    counts = np.zeros(len(spans), dtype=np.float32)
    starts = np.array([a for a, _ in spans])
    for chunk, h in zip(chunks, states, strict=True):
        offs = np.array(chunk.offsets)
        real = offs[:, 1] > offs[:, 0]
        which = np.searchsorted(starts, offs[:, 0], side="right") - 1
        for i in np.unique(which[real]):
            if i < 0:
                continue
            mask = real & (which == i) & (offs[:, 0] < spans[i][1])
            if mask.any():
                sums[i] += h[mask].sum(0)
                counts[i] += mask.sum()
    return sums / np.maximum(counts, 1)[:, None], counts


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
        branch: Branch,
        head: SentimentHead,
        *,
        version: str | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.encoder, self.branch, self.head = encoder, branch, head
        self.version, self.meta = version, meta or {}

    @property
    def fork(self) -> int:
        """The layer of the shared encoder whose hidden states the model reads."""
        return self.branch.fork

    @torch.inference_mode()
    def sentence_probs(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) probabilities, batched by length."""
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        self.branch.eval()
        self.head.eval()
        chunks = sentence_chunks(self.encoder, texts)
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].input_ids))
        out = np.zeros((len(chunks), len(LABELS)), dtype=np.float32)
        bs = max(self.encoder.settings.batch_size, 32)
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            logits = chunk_logits(self.branch, self.head, [chunks[i] for i in idx], self.encoder,
                                  run=self.encoder.run_branch)
            out[idx] = torch.softmax(logits.float(), -1).cpu().numpy()
        return out

    @torch.inference_mode()
    def _branch_states(self, encoded: Sequence[Encoded]) -> list[list[np.ndarray]]:
        """Per document, per window: the branch's output states, batched across documents."""
        flat = [(d, k) for d, e in enumerate(encoded) for k in range(len(e.chunks))]
        order = sorted(range(len(flat)), key=lambda i: len(encoded[flat[i][0]].chunks[flat[i][1]].input_ids))
        out: list[list[np.ndarray]] = [[np.empty(0)] * len(e.chunks) for e in encoded]
        self.branch.eval()
        bs = self.encoder.settings.batch_size
        for b in range(0, len(order), bs):
            idx = [flat[i] for i in order[b : b + bs]]
            chunks = [encoded[d].chunks[k] for d, k in idx]
            _ids, mask = pad_windows(chunks, self.encoder.pad_id)
            hidden = torch.zeros((len(idx), mask.shape[1], self.encoder.dim))
            for row, (d, k) in enumerate(idx):
                h = encoded[d].fork_states[self.fork][k]
                hidden[row, : h.shape[0]] = torch.as_tensor(h)
            states = self.encoder.run_branch(self.branch, hidden, mask).float().cpu().numpy()
            for row, (d, k) in enumerate(idx):
                out[d][k] = states[row, : len(chunks[row].input_ids)]
        return out

    def documents(
        self,
        texts: Sequence[str],
        max_sentences: int = MAX_SENTENCES,
        sentences: Sequence[Sequence[Sentence]] | None = None,
        encoded: Sequence[Encoded | None] | None = None,
    ) -> list[DocumentSentiment]:
        """Each document's sentiment from its sentences (``sentences``: those to read, e.g. a
        mail's without its quotes; by default all of the text's). ``encoded``: the documents'
        shared pass with the states at this model's fork (else it is made here)."""
        self.head.eval()
        per_doc = []
        for i, text in enumerate(texts):
            sents = list(split_sentences(text) if sentences is None else sentences[i])[:max_sentences]
            per_doc.append(sents)
        if encoded is None or any(e is None or self.fork not in e.fork_states for e in encoded):
            encoded = self.encoder.encode_documents(texts, forks=frozenset({self.fork}))
        states = self._branch_states(encoded)
        out = []
        for sents, enc, doc_states in zip(per_doc, encoded, states, strict=True):
            means, counts = span_means(enc.chunks, doc_states, [(s.start, s.end) for s in sents])
            read = [i for i in range(len(sents)) if counts[i] > 0]  # beyond the windows read: left out
            sents = [sents[i] for i in read]
            if not sents:
                out.append(DocumentSentiment(np.array([0.0, 1.0, 0.0], dtype=np.float32), 0, None, None))
                continue
            with torch.inference_mode():
                logits = self.head(torch.from_numpy(means[read]).to(self.encoder.device))
                p = torch.softmax(logits.float(), -1).cpu().numpy()
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

    def save(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        self.branch.save(folder / "branch.safetensors")
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            str(folder / "head.safetensors"),
        )
        meta = {**meta, "labels": list(LABELS), "fork": self.fork, "branch_layers": len(self.branch.layers)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def load_sentiment(folder: Path, encoder: Encoder, *, version: str | None = None) -> SentimentModel:
    from safetensors.torch import load_file

    folder = Path(folder)
    if (folder / "adapter").is_dir() and not (folder / "branch.safetensors").exists():
        raise ModelError(
            f"{folder} holds a sentiment model of an older workflowd (a LoRA adapter over the whole encoder); "
            "retrain it (workflowd train --task sentiment) or roll back (workflowd models rollback sentiment)"
        )
    try:
        meta = json.loads((folder / "meta.json").read_text())
        state = load_file(str(folder / "head.safetensors"))
        branch = Branch.load(folder / "branch.safetensors", encoder.model, int(meta["fork"]))
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot load the sentiment model in {folder}: {exc}") from None
    head = SentimentHead(encoder.dim)
    head.load_state_dict(state)
    branch.to(encoder.device).eval()
    head.to(encoder.device).eval()
    return SentimentModel(encoder, branch, head, version=version, meta=meta)
