"""The token tagger: word shapes and a linear head over the last layer's token states.

The shipped tagger reads the shared pass of the bundled multi-task encoder
(models/multitask.py): no pass of its own. A tagger trained with ``workflowd train --task
entities`` (or retrained from corrections) is the shared encoder with its own LoRA adapter,
one more pass per document.

Shapes enter twice: in the input (so every layer sees casing in context: the multi-task
encoder reads them as token types; a trained tagger adds its own to the input embeddings) and
beside the last token states. A document is read in the encoder's overlapping windows; each
token takes its scores from the window in which it is furthest from an edge, and one BIO
decoding over the whole document joins entities that cross a window edge.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError
from ..models.encoder import MAX_TOKEN_CHUNKS, Chunk, Encoder, pad_windows
from .bio import Span, allowed_transitions, spans_from_path, viterbi
from ..models.shapes import VOCAB, shape_ids

log = logging.getLogger("workflowd.ner")
_WORD = re.compile(r"\w+")


class TaggerHead(torch.nn.Module):
    def __init__(self, dim: int, n_tags: int, shape_dim: int = 32, dropout: float = 0.1):
        super().__init__()
        self.input_shapes = torch.nn.Embedding(VOCAB, dim)
        torch.nn.init.zeros_(self.input_shapes.weight)  # starts as the plain encoder
        self.shapes = torch.nn.Embedding(VOCAB, shape_dim)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(dim + shape_dim, n_tags)

    def forward(self, states: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.cat([states, self.shapes(shapes)], -1)))


@dataclass
class Window:
    chunk: Chunk
    shapes: np.ndarray


def windows(encoder: Encoder, text: str, max_chunks: int | None = MAX_TOKEN_CHUNKS) -> list[Window]:
    return [Window(c, c.types if c.types is not None else shape_ids(text, c.offsets))
            for c in encoder.chunk(text, max_chunks=max_chunks)]


def typed(model: torch.nn.Module) -> bool:
    """Whether ``model`` reads word shapes as its token types (the multi-task encoder)."""
    return int(getattr(model.config, "type_vocab_size", 0)) == VOCAB


def window_logits(
    model: torch.nn.Module, head: TaggerHead, batch: Sequence[Window], pad_id: int, device: torch.device
) -> torch.Tensor:
    """(batch, longest, n_tags) scores; keeps gradients."""
    longest = max(len(w.chunk.input_ids) for w in batch)
    ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    shapes = torch.zeros((len(batch), longest), dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, w in enumerate(batch):
        n = len(w.chunk.input_ids)
        ids[row, :n] = torch.tensor(w.chunk.input_ids)
        shapes[row, :n] = torch.from_numpy(w.shapes)
        mask[row, :n] = 1
    ids, shapes, mask = ids.to(device), shapes.to(device), mask.to(device)
    embeds = model.get_input_embeddings()(ids) + head.input_shapes(shapes)
    out = model(inputs_embeds=embeds, attention_mask=mask, token_type_ids=shapes if typed(model) else None,
                output_hidden_states=True)
    return head(out.hidden_states[-1], shapes)  # the last layer's own states (multitask.TunedModel)


def merge_windows(wins: Sequence[Window], scores: Sequence[np.ndarray], step: int) -> tuple[np.ndarray, list]:
    """Per document token: the scores from the window where it is furthest from an edge."""
    if not wins:
        return np.zeros((0, 0), dtype=np.float32), []
    inner = [len(w.chunk.input_ids) - 2 for w in wins]
    total = (len(wins) - 1) * step + inner[-1]
    n_tags = scores[0].shape[-1]
    merged = np.zeros((total, n_tags), dtype=np.float32)
    offsets: list[tuple[int, int]] = [(0, 0)] * total
    best = np.full(total, -1)
    for k, (w, s) in enumerate(zip(wins, scores, strict=True)):
        n = inner[k]
        j = np.arange(n)
        centrality = np.minimum(j, n - 1 - j)
        g = k * step + j
        take = centrality > best[g]
        merged[g[take]] = s[1 : n + 1][take]
        best[g[take]] = centrality[take]
        for jj in j[take]:
            offsets[k * step + jj] = w.chunk.offsets[jj + 1]
    return merged, offsets


def snap_to_words(text: str, span: Span) -> Span:
    """Widen a span that starts or ends inside a word to the whole word."""
    start, end = span.start, span.end
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return Span(start, end, span.type, span.confidence)


class Tagger:
    """Finds PER, ORG, LOC and MISC entities in texts."""

    def __init__(
        self,
        encoder: Encoder,
        model: torch.nn.Module,
        head: TaggerHead,
        tags: Sequence[str],
        *,
        version: str | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.encoder, self.model, self.head = encoder, model, head
        self.tags = list(tags)
        self.allowed = allowed_transitions(self.tags)
        self.version = version
        self.meta = meta or {}
        self.runtime: Any = None  # ONNX Runtime for the fine-tuned encoder (inference only)
        # reads the shared pass (the shipped head on the multi-task encoder): no pass of its own
        self.shared = model is encoder.model

    @property
    def top(self) -> int:
        """The last layer, whose hidden states the head reads."""
        return int(self.model.config.num_hidden_layers)

    def forks(self) -> frozenset[int]:
        """The layers of the shared pass the tagger reads (none when it runs its own pass)."""
        return frozenset({self.top}) if self.shared else frozenset()

    @property
    def types(self) -> list[str]:
        return sorted({t[2:] for t in self.tags if t != "O"})

    @property
    def step(self) -> int:
        return max(1, self.encoder.max_tokens - 2 - self.encoder.settings.chunk_overlap)

    @torch.inference_mode()
    def scores(self, per_doc: Sequence[Sequence[Window]]) -> list[np.ndarray]:
        """Tag probabilities of every window, in batches across documents."""
        flat = [w for wins in per_doc for w in wins]
        order = sorted(range(len(flat)), key=lambda i: len(flat[i].chunk.input_ids))
        out: list[np.ndarray] = [np.empty(0)] * len(flat)
        self.model.eval()
        self.head.eval()
        bs = self.encoder.settings.batch_size
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            probs = torch.softmax(self._logits([flat[i] for i in idx]), -1).float().cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = probs[row, : len(flat[i].chunk.input_ids)]
        return out

    def _logits(self, batch: Sequence[Window]) -> torch.Tensor:
        onnx = self.encoder.onnx if self.shared else self.runtime
        if onnx is None:
            return window_logits(self.model, self.head, batch, self.encoder.pad_id, self.encoder.device)
        # the word shapes go in as token types (see with_shape_types)
        ids, mask = pad_windows([w.chunk for w in batch], self.encoder.pad_id)
        shapes = torch.zeros(ids.shape, dtype=torch.long)
        for row, w in enumerate(batch):
            shapes[row, : len(w.shapes)] = torch.from_numpy(w.shapes)
        if self.shared:
            got = self.encoder.trunk(ids, mask, self.forks(), shapes)
        else:
            got = self.runtime.trunk(ids, mask, frozenset({self.top}), token_types=shapes)
        if got is None:
            return window_logits(self.model, self.head, batch, self.encoder.pad_id, self.encoder.device)
        return self.head(got[1][self.top].to(self.encoder.device), shapes.to(self.encoder.device))

    @torch.inference_mode()
    def predict_encoded(self, texts: Sequence[str], encoded: Sequence[Any]) -> list[list[Span]]:
        """Entities from the documents' shared pass (``Encoded`` with the top layer's states):
        only the head runs."""
        per_doc = [[Window(c, c.types if c.types is not None else shape_ids(text, c.offsets)) for c in enc.chunks]
                   for text, enc in zip(texts, encoded, strict=True)]
        states = [s for enc in encoded for s in enc.fork_states[self.top]]
        if not states:
            return [[] for _ in texts]
        # the head reads each token on its own: every window of every document in one call
        lengths = [len(s) for s in states]
        logits = self.head(torch.from_numpy(np.concatenate(states)).to(self.encoder.device),
                           torch.from_numpy(np.concatenate([w.shapes for wins in per_doc for w in wins]))
                           .to(self.encoder.device))
        flat = np.split(torch.softmax(logits.float(), -1).cpu().numpy(), np.cumsum(lengths)[:-1])
        out, at = [], 0
        for text, wins in zip(texts, per_doc, strict=True):
            out.append(self.decode(text, wins, flat[at:at + len(wins)]))
            at += len(wins)
        return out

    def decode(self, text: str, wins: Sequence[Window], probs: Sequence[np.ndarray]) -> list[Span]:
        merged, offsets = merge_windows(wins, probs, self.step)
        if not len(merged):
            return []
        path = viterbi(np.log(np.clip(merged, 1e-9, None)), self.allowed, self.tags)
        return [snap_to_words(text, s) for s in spans_from_path(path, merged, offsets, self.tags)]

    def predict(self, texts: Sequence[str]) -> list[list[Span]]:
        per_doc = [windows(self.encoder, t) for t in texts]
        flat = self.scores(per_doc)
        out, at = [], 0
        for text, wins in zip(texts, per_doc, strict=True):
            out.append(self.decode(text, wins, flat[at : at + len(wins)]))
            at += len(wins)
        return out

    # -- artifacts -----------------------------------------------------------------------------

    def save(self, folder: Path, adapter_model: torch.nn.Module, meta: dict[str, Any]) -> None:
        """``adapter/`` (peft), ``head.safetensors`` and ``meta.json`` in ``folder``."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        adapter_model.save_pretrained(str(folder / "adapter"))
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            str(folder / "head.safetensors"),
        )
        (folder / "meta.json").write_text(json.dumps({**meta, "tags": self.tags}, indent=2) + "\n")


def load_tagger(folder: Path, encoder: Encoder, *, version: str | None = None) -> Tagger:
    """A saved tagger: a head on the shared multi-task pass (the shipped one), or a copy of the
    shared encoder with the tagger's own adapter merged in (one more plain pass)."""
    from safetensors.torch import load_file

    from ..models.multitask import task_model

    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
        tags = meta["tags"]
        state = load_file(str(folder / "head.safetensors"))
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot load the entity tagger in {folder}: {exc}") from None
    shared = bool(meta.get("shared"))
    model = task_model(encoder, folder, meta, "entity tagger", "entities")
    head = TaggerHead(encoder.dim, len(tags), shape_dim=int(meta.get("shape_dim", 32)))
    head.load_state_dict(state)
    model.to(encoder.device).eval()
    head.to(encoder.device).eval()
    tagger = Tagger(encoder, model, head, tags, version=version, meta=meta)
    if not shared:
        tagger.runtime = encoder.runtime_for(lambda: with_shape_types(model, head), token_types=True)
    return tagger


def with_shape_types(model: torch.nn.Module, head: TaggerHead) -> torch.nn.Module:
    """The tagger's encoder with the word-shape embedding folded into its token-type
    embedding: ``model(ids, token_type_ids=shapes)`` equals ``model(inputs_embeds=
    word_embeddings(ids) + input_shapes(shapes)[, token_type_ids=shapes])``, a form ONNX
    Runtime's graph takes. Shares every weight with ``model`` but that one table."""
    from ..models.multitask import TunedModel

    if isinstance(model, TunedModel):
        return TunedModel(with_shape_types(model.encoder_model, head), model.restore, model.meta).eval()
    twin = copy.copy(model)
    twin._modules = dict(model._modules)
    twin.config = copy.deepcopy(model.config)
    embeddings = copy.copy(model.embeddings)
    embeddings._modules = dict(model.embeddings._modules)
    types = torch.nn.Embedding(head.input_shapes.num_embeddings, head.input_shapes.embedding_dim)
    table = model.embeddings.token_type_embeddings.weight
    with torch.no_grad():  # a typed encoder has a row per shape already; another, type 0 for all
        types.weight.copy_((table if typed(model) else table[0]) + head.input_shapes.weight)
    embeddings.token_type_embeddings = types.to(head.input_shapes.weight.device)
    twin.embeddings = embeddings
    twin.config.type_vocab_size = head.input_shapes.num_embeddings
    return twin.eval()
