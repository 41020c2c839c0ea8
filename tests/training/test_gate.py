"""The promotion gate weighs a drop against the size of the evaluation set."""

from __future__ import annotations

import pytest

from workflowd.training.gate import compare


def test_one_lost_example_in_thirty_is_noise() -> None:
    cur = [1.0] * 31
    cand = [0.0] + [1.0] * 30
    c = compare(cand, cur, margin=0.0, significance=0.1)
    assert (c.losses, c.wins, c.p_value) == (1, 0, 0.5) and not c.worse
    assert compare(cand, cur, margin=0.0, significance=1.0).worse  # the test turned off: any drop


def test_consistent_losses_are_worse() -> None:
    cur = [1.0] * 4 + [1.0] * 20
    cand = [0.0] * 4 + [1.0] * 20
    c = compare(cand, cur, margin=0.0, significance=0.1)
    assert c.p_value == pytest.approx(0.0625) and c.worse
    assert not compare(cand, cur, margin=0.0, significance=0.05).worse


def test_margin_and_wins_offset_losses() -> None:
    cur = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    cand = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]  # 4 lost, 3 won: a mean drop of 1/8
    c = compare(cand, cur, margin=0.0, significance=1.0)
    assert c.worse and c.candidate == 0.5 and c.current == 0.625
    assert not compare(cand, cur, margin=0.2, significance=1.0).worse  # within the margin
    assert not compare(cand, cur, margin=0.0, significance=0.1).worse  # 4 against 3: no evidence


def test_graded_scores_and_empty_sets() -> None:
    c = compare([0.5, 0.9, 0.2], [0.6, 0.9, 0.1], margin=0.0, significance=1.0)
    assert (c.wins, c.losses) == (1, 1) and not c.worse  # mean 0.533 against 0.533
    assert not compare([], [], margin=0.0, significance=0.1).worse
    with pytest.raises(ValueError):
        compare([1.0], [1.0, 0.0], margin=0.0, significance=0.1)
