"""ONNX Runtime behind the encoder: the same embeddings and branch states as torch, graphs
exported once and cached, a corrupt cache rebuilt, clear errors when it cannot run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch

from workflowd.config import ModelSettings
from workflowd.errors import ModelError
from workflowd.models.branch import Branch
from workflowd.models.encoder import Encoder
from workflowd.models.onnx_runtime import onnxruntime_available

needs_onnx = pytest.mark.skipif(
    not onnxruntime_available(), reason="onnxruntime and onnx are not installed (pip install onnxruntime onnx)"
)

TEXTS = ["Invoice 42: please pay 120 EUR by 1 March.", "The match ended in a draw.", "x",
         " ".join(["Anna met Bob in Paris to talk about the merger with Siemens."] * 60)]


def _wrap(encoder: Encoder, cache: Path | None, **settings: str) -> Encoder:
    """Another Encoder on the session's loaded model (no second load from disk)."""
    return Encoder(ModelSettings(**settings), model=encoder.model, tokenizer=encoder.tokenizer, cache_dir=cache)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_encoder(encoder: Encoder) -> Encoder:
    return _wrap(encoder, None, runtime="torch")


@pytest.fixture(scope="module")
def onnx_encoder(encoder: Encoder, cache: Path) -> Encoder:
    enc = _wrap(encoder, cache, runtime="onnx")
    enc.prepare(frozenset({enc.layers - 1}))  # one graph, for the fork the branches use and for none
    return enc


def _frozen_branch(encoder: Encoder) -> Branch:
    branch = Branch.from_encoder(encoder.model, 1).eval()
    with torch.no_grad():  # not the encoder's own top layer: a branch that was fine-tuned
        for p in branch.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.01)
    return branch.requires_grad_(False)


@needs_onnx
def test_onnx_embeddings_equal_torch(onnx_encoder: Encoder, torch_encoder: Encoder) -> None:
    assert onnx_encoder.runtime == "onnx" and torch_encoder.runtime == "torch"
    cos = (onnx_encoder.encode_texts(TEXTS) * torch_encoder.encode_texts(TEXTS)).sum(1)
    assert cos.min() > 0.9999
    fork = frozenset({onnx_encoder.layers - 1})
    ours, ref = onnx_encoder.encode_documents(TEXTS, forks=fork), torch_encoder.encode_documents(TEXTS, forks=fork)
    for a, b in zip(ours, ref, strict=True):
        assert a.passes == b.passes
        assert float(a.embedding @ b.embedding) > 0.9999
        for f in fork:
            for x, y in zip(a.fork_states[f], b.fork_states[f], strict=True):
                assert x.shape == y.shape and np.abs(x - y).max() < 1e-3
    assert onnx_encoder.onnx.exports == 1  # the plain pass reused the graph exported for the fork


@needs_onnx
def test_branch_through_onnx_equals_torch(onnx_encoder: Encoder, torch_encoder: Encoder) -> None:
    branch = _frozen_branch(onnx_encoder)
    hidden = torch.randn((3, 20, onnx_encoder.dim), generator=torch.Generator().manual_seed(1))
    mask = torch.ones((3, 20), dtype=torch.long)
    mask[2, 9:] = 0
    ref = torch_encoder.run_branch(branch, hidden, mask)
    exports = onnx_encoder.onnx.exports
    got = onnx_encoder.run_branch(branch, hidden, mask)
    assert onnx_encoder.onnx.exports == exports + 1
    keep = mask.bool()
    assert (got[keep] - ref[keep]).abs().max() < 1e-3
    onnx_encoder.run_branch(branch, hidden, mask)
    assert onnx_encoder.onnx.exports == exports + 1  # one session per branch object
    # a branch being trained (weights that take gradients) stays in torch
    branch.requires_grad_(True)
    assert onnx_encoder.onnx.branch(branch, hidden, mask) is None


@needs_onnx
def test_a_second_encoder_loads_the_cached_graphs(encoder: Encoder, onnx_encoder: Encoder, cache: Path) -> None:
    files = sorted(cache.glob("trunk-*.onnx"))
    assert files
    mtimes = [f.stat().st_mtime_ns for f in files]
    again = _wrap(encoder, cache, runtime="onnx")
    again.prepare(frozenset({again.layers - 1}))
    assert (again.onnx.exports, again.onnx.loads) == (0, 1)
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".export-*"))


@needs_onnx
def test_a_corrupt_cached_graph_is_exported_again(encoder: Encoder, tmp_path: Path) -> None:
    first = _wrap(encoder, tmp_path, runtime="onnx")
    branch = _frozen_branch(encoder)
    hidden, mask = torch.randn((1, 8, encoder.dim)), torch.ones((1, 8), dtype=torch.long)
    ref = first.run_branch(branch, hidden, mask)
    [path] = tmp_path.glob("branch-*.onnx")
    path.write_bytes(path.read_bytes()[:1000])  # cut short, as by a full disk
    again = _wrap(encoder, tmp_path, runtime="onnx")
    got = again.run_branch(branch, hidden, mask)
    assert (again.onnx.exports, again.onnx.loads) == (1, 0)
    assert (got - ref).abs().max() < 1e-4
    # garbage that loads but computes something else is caught by the check against torch
    other = _frozen_branch(encoder)
    with torch.no_grad():
        other.layers[0].output.dense.weight.mul_(2)
    third = _wrap(encoder, tmp_path, runtime="onnx")
    third.run_branch(other, hidden, mask)  # exported under its own hash
    [odd] = [p for p in tmp_path.glob("branch-*.onnx") if p != path]
    shutil.copy(odd, path)  # the wrong graph under the first branch's name
    fourth = _wrap(encoder, tmp_path, runtime="onnx")
    got = fourth.run_branch(branch, hidden, mask)
    assert fourth.onnx.exports == 1 and (got - ref).abs().max() < 1e-4


@needs_onnx
def test_int8_is_close_to_torch(encoder: Encoder, torch_encoder: Encoder, tmp_path: Path) -> None:
    int8 = _wrap(encoder, tmp_path, runtime="onnx", quantize="int8")
    cos = (int8.encode_texts(TEXTS) * torch_encoder.encode_texts(TEXTS)).sum(1)
    assert int8.onnx.exports == 1
    assert cos.min() > 0.97
    assert list(tmp_path.glob("trunk-*-int8.onnx"))


def test_onnx_without_onnxruntime_is_a_clear_error(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    with pytest.raises(ModelError, match="pip install onnxruntime"):
        _wrap(encoder, None, runtime="onnx")
    with pytest.raises(ModelError, match="onnxruntime"):
        _wrap(encoder, None, quantize="int8")  # auto, but only ONNX Runtime quantizes
    assert _wrap(encoder, None).runtime == "torch"  # auto: torch when it is missing


def test_int8_with_torch_is_a_config_error() -> None:
    with pytest.raises(pydantic.ValidationError, match="quantize"):
        ModelSettings(runtime="torch", quantize="int8")


def test_int8_with_torch_in_the_config_file_names_the_setting(tmp_path: Path) -> None:
    from workflowd.config import load_config
    from workflowd.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[model]\nruntime = "torch"\nquantize = "int8"\n')
    with pytest.raises(ConfigError, match="quantize"):
        load_config(path)


@needs_onnx
def test_the_shipped_tagger_and_sentiment_model_give_torchs_answers_in_onnx(
    onnx_encoder: Encoder, torch_encoder: Encoder
) -> None:
    """They read the shared pass of the multi-task encoder, which runs in ONNX Runtime too
    with the word shapes as its token types: the same scores as in torch."""
    from workflowd.ner.tagger import load_tagger, windows
    from workflowd.sentiment.model import load_sentiment
    from workflowd.tasks.entities import SHIPPED as TAGGER
    from workflowd.tasks.sentiment import SHIPPED as SENTIMENT

    in_torch, in_onnx = load_tagger(TAGGER, torch_encoder), load_tagger(TAGGER, onnx_encoder)
    assert in_torch.shared and in_onnx.shared and onnx_encoder.onnx is not None and torch_encoder.onnx is None
    wins = [windows(torch_encoder, t) for t in TEXTS]
    for a, b in zip(in_torch.scores(wins), in_onnx.scores(wins), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    spans = [[(s.start, s.end, s.type) for s in doc] for doc in in_onnx.predict(TEXTS)]
    assert spans == [[(s.start, s.end, s.type) for s in doc] for doc in in_torch.predict(TEXTS)]
    assert ("Paris" in {TEXTS[3][a:b] for a, b, _ in spans[3]})
    s_torch, s_onnx = load_sentiment(SENTIMENT, torch_encoder), load_sentiment(SENTIMENT, onnx_encoder)
    assert s_onnx.shared and s_torch.shared
    np.testing.assert_allclose(s_torch.sentence_probs(TEXTS), s_onnx.sentence_probs(TEXTS), atol=1e-4)
