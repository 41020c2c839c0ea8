"""CoNLL reading, BIO decoding, word shapes and window merging: no model needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_data
from workflowd.errors import ModelError
from workflowd.models.encoder import Chunk
from workflowd.ner.bio import Span, allowed_transitions, spans_from_path, tag_names, viterbi
from workflowd.ner.conll import read_conll
from workflowd.models.shapes import shape, shape_ids
from workflowd.ner.tagger import Window, merge_windows, snap_to_words
from workflowd.training.entities import entity_metrics, word_tags

TAGS = tag_names(("PER", "ORG", "LOC", "MISC"))


def test_read_conll_documents_sentences_and_iob1(tmp_path: Path) -> None:
    f = tmp_path / "x.conll"
    f.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP I-PER\n"
        "Blackburn NNP I-NP I-PER\n\n-DOCSTART- -X- -X- O\n\nBRUSSELS NNP B-NP B-LOC\n"
    )
    docs = read_conll(f)
    assert len(docs) == 2
    assert docs[0].tags == [["B-ORG", "O"], ["B-PER", "I-PER"]]  # IOB1 read as BIO
    text, spans = docs[0].text_and_spans()
    assert text == "EU rejects\nPeter Blackburn"
    assert [text[a:b] for a, b in spans[1]] == ["Peter", "Blackburn"]
    assert docs[1].tags == [["B-LOC"]]


def test_read_conll_errors_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.conll"
    f.write_text("EU B-ORG\nrejects X-FOO\n")
    with pytest.raises(ModelError, match=r"bad.conll:2: 'X-FOO' is not a BIO tag"):
        read_conll(f)
    (tmp_path / "empty.conll").write_text("\n\n")
    with pytest.raises(ModelError, match="no tagged tokens"):
        read_conll(tmp_path / "empty.conll")
    with pytest.raises(ModelError, match="cannot read"):
        read_conll(tmp_path / "missing.conll")


def test_shared_conll_counts() -> None:
    docs = read_conll(shared_data("conll2003") / "valid.txt")
    assert len(docs) == 216 and sum(len(d.sentences) for d in docs) == 3250


def test_viterbi_never_starts_an_entity_with_i() -> None:
    allowed = allowed_transitions(TAGS)
    lp = np.log(np.full((3, len(TAGS)), 0.01))
    lp[0, TAGS.index("I-PER")] = np.log(0.9)  # locally best, but not valid BIO
    lp[1, TAGS.index("I-PER")] = np.log(0.9)
    lp[2, TAGS.index("O")] = np.log(0.9)
    path = [TAGS[i] for i in viterbi(lp, allowed, TAGS)]
    assert path[0] != "I-PER" and path[1] in ("I-PER", "B-PER", "O")
    assert all(not (b.startswith("I-") and a[2:] != b[2:]) for a, b in zip(path, path[1:], strict=False))


def test_spans_from_path_and_word_tags() -> None:
    tags = ["B-PER", "I-PER", "O", "B-LOC"]
    path = np.array([TAGS.index(t) for t in tags])
    probs = np.full((4, len(TAGS)), 0.5)
    offsets = [(0, 5), (6, 15), (16, 18), (19, 25)]
    spans = spans_from_path(path, probs, offsets, TAGS)
    assert spans == [Span(0, 15, "PER", 0.5), Span(19, 25, "LOC", 0.5)]
    assert word_tags(spans, [offsets]) == [["B-PER", "I-PER", "O", "B-LOC"]]


def test_shapes_see_what_the_uncased_encoder_cannot() -> None:
    assert [shape(s) for s in ["", ".", "1996", "EU", "U", "Peter", "lamb", "iPhone"]] == list(range(8))
    text = "Apple sells apples"
    ids = shape_ids(text, [(0, 0), (0, 5), (6, 11), (12, 17), (17, 18), (0, 0)])
    assert ids[0] == 0 and ids[-1] == 0
    assert len({int(ids[1]), int(ids[3])}) == 2  # "Apple" and "apple" differ
    assert (ids[3] - 1) % 2 == 1 and (ids[4] - 1) % 2 == 0  # "s" continues the word "apples"


def test_merge_windows_takes_each_token_from_its_most_central_window() -> None:
    # 10 document tokens, windows of 6 inner tokens, step 4: window 0 = 0..5, window 1 = 4..9
    def win(start: int, n: int) -> Window:
        offsets = [(0, 0), *[(2 * t, 2 * t + 1) for t in range(start, start + n)], (0, 0)]
        return Window(Chunk(0, [0] * (n + 2), offsets), np.zeros(n + 2, dtype=np.int64))

    wins = [win(0, 6), win(4, 6)]
    scores = [np.full((8, 2), 1.0), np.full((8, 2), 2.0)]
    merged, offsets = merge_windows(wins, scores, step=4)
    assert merged.shape == (10, 2)
    assert offsets == [(2 * t, 2 * t + 1) for t in range(10)]
    # token 4 is at the edge of... position 4 of window 0 (distance 1) and 0 of window 1 (distance 0)
    assert merged[4, 0] == 1.0 and merged[5, 0] == 2.0


def test_snap_to_words() -> None:
    text = "Mr Blackburn said"
    assert snap_to_words(text, Span(5, 9, "PER", 0.9)) == Span(3, 12, "PER", 0.9)


def test_entity_metrics_are_seqeval_exact_spans() -> None:
    truth = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC"]]
    m = entity_metrics(truth, pred)
    assert m["precision"] == 0.5 and m["recall"] == 0.5
    assert m["per_type"]["LOC"]["f1"] == 1.0 and m["per_type"]["PER"]["f1"] == 0.0
