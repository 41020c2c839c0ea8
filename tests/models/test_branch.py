"""Task branches: a step reads the hidden states of a layer of the document's one shared pass
and runs its own copy of the layers above it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from workflowd.config import Settings
from workflowd.errors import ModelError
from workflowd.models.branch import Branch
from workflowd.models.encoder import Encoder
from workflowd.models.provider import ModelProvider
from workflowd.pipeline import Document, Step, StepResult
from workflowd.pipeline.pipeline import Pipeline
from workflowd.pipeline.step import StepContext

TEXTS = [
    "Angela Merkel met Emmanuel Macron in Paris on Monday. The talks went badly. " * 30,
    "A short note from Apple Inc. about the invoice. Thanks, it was great!",
    "",
]


def test_a_fresh_branch_is_the_encoders_own_top_layer(encoder: Encoder) -> None:
    (enc,) = encoder.encode_documents([TEXTS[1]], forks=frozenset({encoder.layers - 1}))
    branch = Branch.from_encoder(encoder.model, 1).eval()
    assert branch.fork == encoder.layers - 1
    hidden = torch.as_tensor(enc.fork_states[branch.fork][0])[None]
    out = encoder.run_branch(branch, hidden, torch.ones(hidden.shape[:2], dtype=torch.long))[0].numpy()
    np.testing.assert_allclose(out, enc.token_states[0], atol=1e-4)


def test_a_branch_round_trips_through_its_file_in_16_bits(tmp_path: Path, encoder: Encoder) -> None:
    torch.manual_seed(0)
    branch = Branch.from_encoder(encoder.model, 2).eval()
    with torch.no_grad():
        for p in branch.parameters():
            p.add_(0.01 * torch.randn_like(p))
    branch.save(tmp_path / "b.safetensors")
    again = Branch.load(tmp_path / "b.safetensors", encoder.model, branch.fork).eval()
    hidden, mask = torch.randn(2, 7, encoder.dim), torch.ones(2, 7, dtype=torch.long)
    with torch.inference_mode():
        np.testing.assert_allclose(branch(hidden, mask).numpy(), again(hidden, mask).numpy(), atol=5e-2)
    assert (tmp_path / "b.safetensors").stat().st_size < 8_000_000  # two layers of MiniLM in fp16
    with pytest.raises(ModelError, match="fork layer 9"):
        Branch.load(tmp_path / "b.safetensors", encoder.model, 9)


class TopLayer(Step):
    """A plugin's step: its own copy of the top layer, on the states the shared pass kept below it."""

    name = "top_layer"

    def __init__(self, settings, context):  # noqa: ANN001
        super().__init__(settings, context)
        self.branch = Branch.from_encoder(context.models.encoder.model, 1).eval()

    def forks(self) -> frozenset[int]:
        return frozenset({self.branch.fork})

    def run(self, doc: Document) -> StepResult:
        encoder = self.context.models.encoder
        means = []
        for h in doc.encoded.fork_states[self.branch.fork]:
            h = torch.as_tensor(h)[None]
            out = encoder.run_branch(self.branch, h, torch.ones(h.shape[:2], dtype=torch.long))
            means.append(out[0].mean(0))
        return StepResult({"windows": len(means), "norm": float(torch.stack(means).mean(0).norm())})


def test_a_plugin_step_reads_the_shared_pass_once_per_window(tmp_path: Path, encoder: Encoder) -> None:
    models = ModelProvider(Settings(data_dir=tmp_path))
    models._encoder = encoder  # the session's, loaded once
    context = StepContext(settings=models.settings, logger=logging.getLogger("test"), models=models)
    pipeline = Pipeline("p", [TopLayer(None, context)], context)
    seen = []
    trunk = encoder.trunk

    def counting(ids, mask, forks=frozenset(), types=None):  # noqa: ANN001, ANN202
        seen.append((int(mask.sum()), frozenset(forks)))
        return trunk(ids, mask, forks, types)

    encoder.trunk = counting
    try:
        docs = [Document(i, t) for i, t in enumerate(TEXTS)]
        outcomes = pipeline.run_batch(docs)
    finally:
        del encoder.trunk
    assert all(o.error is None for doc in outcomes for o in doc), outcomes
    tokens = sum(len(c.input_ids) for t in TEXTS for c in encoder.chunk(t, max_chunks=64))
    assert sum(n for n, _ in seen) == tokens  # each window through the encoder once
    assert {f for _, f in seen} == {frozenset({encoder.layers - 1})}
    assert [d.results["top_layer"]["windows"] for d in docs] == [len(encoder.chunk(t, max_chunks=64)) for t in TEXTS]
