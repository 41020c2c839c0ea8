"""The sentiment model: the shared encoder with a LoRA adapter merged in, and a 3-way head.

Sentence scores: probabilities of negative / neutral / positive, a label with its
probability as confidence, and ``score = p(positive) - p(negative)`` in [-1, 1].

A document is scored sentence by sentence (the model was trained on sentences; a
256-token window is not a sentence): its probabilities are the token-weighted mean of its
sentences' probabilities, so a long letter of neutral facts with one angry line stays
close to neutral, and the most negative and the most positive sentence are reported beside
it. Only the first ``max_sentences`` sentences are read (the cost of a huge file is bounded).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError
from ..models.encoder import Chunk, Encoder, forward_windows, pad_windows
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


def chunk_logits(
    model: torch.nn.Module, head: SentimentHead, chunks: Sequence[Chunk], encoder: Encoder
) -> torch.Tensor:
    pooled, _ = forward_windows(model, chunks, encoder.pad_id, encoder.device)
    return head(pooled)


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
        got = None
        if self.runtime is not None:
            ids, mask = pad_windows(chunks, self.encoder.pad_id)
            got = self.runtime.trunk(ids, mask, frozenset())
        if got is None:
            return chunk_logits(self.model, self.head, chunks, self.encoder)
        m = mask.unsqueeze(-1).to(got[0].dtype)
        return self.head((got[0] * m).sum(1) / m.sum(1).clamp(min=1))

    def documents(
        self,
        texts: Sequence[str],
        max_sentences: int = MAX_SENTENCES,
        sentences: Sequence[Sequence[Sentence]] | None = None,
    ) -> list[DocumentSentiment]:
        """Each document's sentiment from its sentences (``sentences``: those to read, e.g. a
        mail's without its quotes; by default all of the text's)."""
        per_doc = []
        for i, text in enumerate(texts):
            sents = list(split_sentences(text) if sentences is None else sentences[i])[:max_sentences]
            per_doc.append(sents)
        flat = [s.text for sents in per_doc for s in sents]
        probs = self.sentence_probs(flat)
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
        (folder / "meta.json").write_text(json.dumps({**meta, "labels": list(LABELS)}, indent=2) + "\n")


def load_sentiment(folder: Path, encoder: Encoder, *, version: str | None = None) -> SentimentModel:
    from peft import PeftModel
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        state = load_file(str(folder / "head.safetensors"))
        model = PeftModel.from_pretrained(
            copy.deepcopy(encoder.model), str(folder / "adapter")
        ).merge_and_unload()
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot load the sentiment model in {folder}: {exc}") from None
    head = SentimentHead(encoder.dim)
    head.load_state_dict(state)
    model.to(encoder.device).eval()
    head.to(encoder.device).eval()
    loaded = SentimentModel(encoder, model, head, version=version, meta=meta)
    loaded.runtime = encoder.runtime_for(lambda: model)
    return loaded
