"""Task branches read the document's one shared pass: the same answers as reading the text
alone, and the encoder runs once per window whatever the steps."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from workflowd.errors import ModelError
from workflowd.models.branch import Branch
from workflowd.models.encoder import Encoder
from workflowd.ner.bio import tag_names
from workflowd.ner.conll import TYPES
from workflowd.ner.tagger import Tagger, TaggerHead, windows
from workflowd.sentiment.model import SentimentHead, SentimentModel

TEXTS = [
    "Angela Merkel met Emmanuel Macron in Paris on Monday. The talks went badly. " * 30,
    "A short note from Apple Inc. about the invoice. Thanks, it was great!",
    "",
]


def _random_tagger(encoder: Encoder) -> Tagger:
    torch.manual_seed(1)
    head = TaggerHead(encoder.dim, len(tag_names(TYPES)))
    torch.nn.init.normal_(head.input_shapes.weight, std=0.1)  # shapes change what the branch sees
    return Tagger(encoder, Branch.from_encoder(encoder.model, 1).eval(), head.eval(), tag_names(TYPES))


def test_a_fresh_branch_is_the_encoders_own_top_layer(encoder: Encoder) -> None:
    (enc,) = encoder.encode_documents([TEXTS[1]], forks=frozenset({encoder.layers - 1}))
    branch = Branch.from_encoder(encoder.model, 1).eval()
    assert branch.fork == encoder.layers - 1
    hidden = torch.as_tensor(enc.fork_states[branch.fork][0])[None]
    with torch.inference_mode():
        out = branch(hidden, torch.ones(hidden.shape[:2], dtype=torch.long))[0].numpy()
    np.testing.assert_allclose(out, enc.token_states[0], atol=1e-4)


def test_the_tagger_reads_the_shared_pass_as_it_reads_the_text(encoder: Encoder) -> None:
    tagger = _random_tagger(encoder)
    encoded = encoder.encode_documents(TEXTS, forks=frozenset({tagger.fork}))
    alone = tagger.scores([windows(encoder, t) for t in TEXTS])
    shared = tagger.scores([windows(encoder, t) for t in TEXTS], [e.fork_states[tagger.fork] for e in encoded])
    assert len(alone) == len(shared) == sum(len(e.chunks) for e in encoded)
    for a, b in zip(alone, shared, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert tagger.predict(TEXTS) == tagger.predict(TEXTS, encoded)


def test_sentiment_reads_the_shared_pass_as_it_reads_the_text(encoder: Encoder) -> None:
    torch.manual_seed(2)
    model = SentimentModel(encoder, Branch.from_encoder(encoder.model, 1).eval(), SentimentHead(encoder.dim).eval())
    encoded = encoder.encode_documents(TEXTS, forks=frozenset({model.fork}))
    alone, shared = model.documents(TEXTS), model.documents(TEXTS, encoded=encoded)
    for a, b in zip(alone, shared, strict=True):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
        assert (a.sentences, a.most_negative, a.most_positive) == (b.sentences, b.most_negative, b.most_positive)
    assert shared[2].sentences == 0 and shared[2].label == "neutral"
    # a one-sentence document is read as the sentence alone is
    np.testing.assert_allclose(model.documents([TEXTS[1][:48]])[0].probs, model.sentence_probs([TEXTS[1][:48]])[0],
                               atol=1e-5)


def test_a_branch_round_trips_through_its_file(tmp_path: Path, encoder: Encoder) -> None:
    tagger = _random_tagger(encoder)
    tagger.save(tmp_path / "t", {"note": "test"})
    from workflowd.ner.tagger import load_tagger

    again = load_tagger(tmp_path / "t", encoder)
    assert again.fork == tagger.fork and again.meta["branch_layers"] == 1
    wins = [windows(encoder, TEXTS[1])]
    np.testing.assert_allclose(tagger.scores(wins)[0], again.scores(wins)[0], atol=2e-3)  # stored in 16 bits
    assert (tmp_path / "t" / "branch.safetensors").stat().st_size < 4_000_000


def test_an_older_taggers_folder_says_what_to_do(tmp_path: Path, encoder: Encoder) -> None:
    from workflowd.ner.tagger import load_tagger

    (tmp_path / "adapter").mkdir()
    (tmp_path / "meta.json").write_text("{}")
    with pytest.raises(ModelError, match="retrain it"):
        load_tagger(tmp_path, encoder)


def test_the_default_pipeline_runs_the_encoder_once_per_window(tmp_path: Path, encoder: Encoder) -> None:
    """classify, entities, summarize and sentiment: one trunk pass over each window; each
    branch runs one layer over the same windows."""
    from workflowd.config import load_config
    from workflowd.pipeline import Document
    from workflowd.runtime import build_pipelines

    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent(f"""
        data_dir = "{tmp_path / 'data'}"
        [pipelines.default]
        steps = ["classify", "entities", "summarize", "sentiment"]
    """))
    settings = load_config(config)
    pipelines = build_pipelines(settings)
    pipelines.context.models._encoder = encoder  # the session's encoder, loaded once
    seen = {"trunk": 0, "branch": 0}
    trunk, run_branch = encoder.trunk, encoder.run_branch

    def counting_trunk(ids, mask, forks=frozenset()):  # noqa: ANN001, ANN202
        seen["trunk"] += int(mask.sum())
        return trunk(ids, mask, forks)

    def counting_branch(branch, hidden, mask):  # noqa: ANN001, ANN202
        seen["branch"] += int(mask.sum())
        return run_branch(branch, hidden, mask)

    encoder.trunk, encoder.run_branch = counting_trunk, counting_branch
    try:
        docs = [Document(i, t) for i, t in enumerate(TEXTS[:2])]
        pipelines.get("default").run_batch(docs)  # models load on this first batch
        seen.update(trunk=0, branch=0)
        docs = [Document(i, t) for i, t in enumerate(TEXTS[:2])]
        outcomes = pipelines.get("default").run_batch(docs)
    finally:
        del encoder.trunk, encoder.run_branch
    assert all(o.error is None for doc in outcomes for o in doc), outcomes
    tokens = sum(len(c.input_ids) for t in TEXTS[:2] for c in encoder.chunk(t, max_chunks=64))
    assert seen["trunk"] == tokens
    assert seen["branch"] == 2 * tokens  # the tagger's and sentiment's
    names = {e["text"] for e in docs[0].results["entities"]["entities"]}
    assert {"Angela Merkel", "Paris"} <= names
