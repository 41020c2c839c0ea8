"""The token tagger: a branch of the shared encoder (its top layers, fine-tuned), word shapes
and a linear head.

The tagger forks the shared encoder below its top layer(s) (workflowd/models/branch.py): the
document's one shared pass gives the hidden states at the fork, and the tagger runs only its
own copy of the layers above. Shapes enter twice: added to the hidden states at the fork (so
the branch's attention sees casing in context, which the uncased encoder cannot) and beside
the branch's output states. A document is read in the encoder's overlapping windows; each
token takes its scores from the window in which it is furthest from an edge, and one BIO
decoding over the whole document joins entities that cross a window edge.
"""

from __future__ import annotations

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
from ..models.branch import Branch, hidden_at
from ..models.encoder import MAX_TOKEN_CHUNKS, Chunk, Encoder, pad_windows
from .bio import Span, allowed_transitions, spans_from_path, viterbi
from .shapes import VOCAB, shape_ids

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
    return [Window(c, shape_ids(text, c.offsets)) for c in encoder.chunk(text, max_chunks=max_chunks)]


def pad_states(states: Sequence[np.ndarray | torch.Tensor], longest: int, dim: int) -> torch.Tensor:
    """(batch, longest, dim) from per-window hidden states of different lengths."""
    out = torch.zeros((len(states), longest, dim))
    for row, h in enumerate(states):
        out[row, : h.shape[0]] = torch.as_tensor(h)
    return out


def window_logits(
    model: torch.nn.Module,
    branch: Branch,
    head: TaggerHead,
    batch: Sequence[Window],
    pad_id: int,
    device: torch.device,
    hidden: Sequence[np.ndarray] | None = None,
    run: Any = None,
) -> torch.Tensor:
    """(batch, longest, n_tags) scores; keeps gradients in the branch and the head.

    ``hidden``: the windows' states at the branch's fork, from the shared pass; without them
    the frozen layers below the fork of ``model`` (the shared encoder) are run here. ``run``:
    how to run the branch (the encoder's runtime at inference; plain torch when training)."""
    ids, mask = pad_windows([w.chunk for w in batch], pad_id)
    shapes = torch.zeros(ids.shape, dtype=torch.long)
    for row, w in enumerate(batch):
        shapes[row, : len(w.shapes)] = torch.from_numpy(w.shapes)
    ids, shapes, mask = ids.to(device), shapes.to(device), mask.to(device)
    if hidden is None:
        with torch.no_grad():
            states = hidden_at(model, ids, mask, branch.fork)
    else:
        states = pad_states(hidden, ids.shape[1], head.out.in_features - head.shapes.embedding_dim).to(device)
    states = states + head.input_shapes(shapes)
    out = run(branch, states, mask) if run is not None else branch(states, mask)
    return head(out, shapes)


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
        branch: Branch,
        head: TaggerHead,
        tags: Sequence[str],
        *,
        version: str | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.encoder, self.branch, self.head = encoder, branch, head
        self.tags = list(tags)
        self.allowed = allowed_transitions(self.tags)
        self.version = version
        self.meta = meta or {}

    @property
    def types(self) -> list[str]:
        return sorted({t[2:] for t in self.tags if t != "O"})

    @property
    def fork(self) -> int:
        """The layer of the shared encoder whose hidden states the tagger reads."""
        return self.branch.fork

    @property
    def step(self) -> int:
        return max(1, self.encoder.max_tokens - 2 - self.encoder.settings.chunk_overlap)

    @torch.inference_mode()
    def scores(
        self, per_doc: Sequence[Sequence[Window]], hidden: Sequence[Sequence[np.ndarray]] | None = None
    ) -> list[np.ndarray]:
        """Tag probabilities of every window, in batches across documents. ``hidden``: per
        document, its windows' states at the fork from the shared pass (else computed here)."""
        flat = [w for wins in per_doc for w in wins]
        flat_hidden = [h for doc in hidden for h in doc] if hidden is not None else None
        order = sorted(range(len(flat)), key=lambda i: len(flat[i].chunk.input_ids))
        out: list[np.ndarray] = [np.empty(0)] * len(flat)
        self.branch.eval()
        self.head.eval()
        bs = self.encoder.settings.batch_size
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            batch = [flat[i] for i in idx]
            if flat_hidden is not None:
                states = [flat_hidden[i] for i in idx]
            else:
                ids, mask = pad_windows([w.chunk for w in batch], self.encoder.pad_id)
                fork = self.encoder.trunk(ids, mask, frozenset({self.fork}))[1][self.fork]
                states = [fork[row, : len(w.chunk.input_ids)] for row, w in enumerate(batch)]
            logits = window_logits(self.encoder.model, self.branch, self.head, batch, self.encoder.pad_id,
                                   self.encoder.device, hidden=states, run=self.encoder.run_branch)
            probs = torch.softmax(logits, -1).float().cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = probs[row, : len(flat[i].chunk.input_ids)]
        return out

    def decode(self, text: str, wins: Sequence[Window], probs: Sequence[np.ndarray]) -> list[Span]:
        merged, offsets = merge_windows(wins, probs, self.step)
        if not len(merged):
            return []
        path = viterbi(np.log(np.clip(merged, 1e-9, None)), self.allowed, self.tags)
        return [snap_to_words(text, s) for s in spans_from_path(path, merged, offsets, self.tags)]

    def predict(self, texts: Sequence[str], encoded: Sequence[Any] | None = None) -> list[list[Span]]:
        """Each text's names. ``encoded``: the texts' shared pass (workflowd.models.encoder.Encoded
        with the states at this tagger's fork), which saves running the layers below it."""
        if encoded is not None and all(e is not None and self.fork in e.fork_states for e in encoded):
            per_doc = [[Window(c, shape_ids(t, c.offsets)) for c in e.chunks] for t, e in zip(texts, encoded, strict=True)]
            hidden: list[list[np.ndarray]] | None = [e.fork_states[self.fork] for e in encoded]
        else:
            per_doc = [windows(self.encoder, t) for t in texts]
            hidden = None
        flat = self.scores(per_doc, hidden)
        out, at = [], 0
        for text, wins in zip(texts, per_doc, strict=True):
            out.append(self.decode(text, wins, flat[at : at + len(wins)]))
            at += len(wins)
        return out

    # -- artifacts -----------------------------------------------------------------------------

    def save(self, folder: Path, meta: dict[str, Any]) -> None:
        """``branch.safetensors``, ``head.safetensors`` and ``meta.json`` in ``folder``."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        self.branch.save(folder / "branch.safetensors")
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            str(folder / "head.safetensors"),
        )
        meta = {**meta, "tags": self.tags, "fork": self.fork, "branch_layers": len(self.branch.layers)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def load_tagger(folder: Path, encoder: Encoder, *, version: str | None = None) -> Tagger:
    """A saved tagger: its branch on the shared encoder, and its head."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if (folder / "adapter").is_dir() and not (folder / "branch.safetensors").exists():
        raise ModelError(
            f"{folder} holds a tagger of an older workflowd (a LoRA adapter over the whole encoder); "
            "retrain it (workflowd train --task entities) or roll back (workflowd models rollback entities)"
        )
    try:
        meta = json.loads((folder / "meta.json").read_text())
        tags = meta["tags"]
        state = load_file(str(folder / "head.safetensors"))
        branch = Branch.load(folder / "branch.safetensors", encoder.model, int(meta["fork"]))
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot load the entity tagger in {folder}: {exc}") from None
    head = TaggerHead(encoder.dim, len(tags), shape_dim=int(meta.get("shape_dim", 32)))
    head.load_state_dict(state)
    branch.to(encoder.device).eval()
    head.to(encoder.device).eval()
    return Tagger(encoder, branch, head, tags, version=version, meta=meta)
