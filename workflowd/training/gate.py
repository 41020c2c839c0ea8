"""The promotion gate: is the candidate worse, or better, than the model in use, beyond the
noise of a small evaluation set?

Both models are scored on the same examples (per-example scores in [0, 1]: 1 for a right
label, a document's entity F1, a summary's ROUGE-2). The candidate counts as worse on a set
when

- its mean score is below the current model's by more than ``margin``, and
- a one-sided sign test on the examples where the two models differ says that the
  candidate loses more often than it wins, at level ``significance`` (ties are dropped).

On 30 held-out corrections one lost example is 3 points of accuracy and no evidence at all
(p = 0.5); four lost and none won is (p = 0.0625). ``significance = 1`` turns the test off:
any drop beyond the margin rejects.

It counts as better the other way round: a higher mean score, and a sign test that says it
wins more often than it loses at ``significance``. One example won of four is no evidence of
anything (p = 0.5): the retraining loop promotes a candidate only when it is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-9


@dataclass
class Comparison:
    n: int
    candidate: float  # mean score
    current: float
    wins: int  # examples where the candidate scores higher
    losses: int
    p_value: float  # one-sided sign test: P(at least `losses` of wins + losses | a fair coin)
    worse: bool
    p_better: float = 1.0  # the same test the other way: P(at least `wins` of wins + losses)
    better: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "candidate": round(self.candidate, 6),
            "current": round(self.current, 6),
            "wins": self.wins,
            "losses": self.losses,
            "p_value": round(self.p_value, 6),
            "worse": self.worse,
            "p_better": round(self.p_better, 6),
            "better": self.better,
        }


def compare(
    candidate: Sequence[float], current: Sequence[float], *, margin: float, significance: float
) -> Comparison:
    """Paired comparison of per-example scores (the same examples, in the same order)."""
    from scipy.stats import binomtest

    cand, cur = np.asarray(candidate, dtype=float), np.asarray(current, dtype=float)
    if cand.shape != cur.shape:
        raise ValueError("the two models must be scored on the same examples")
    diff = cand - cur
    wins, losses = int((diff > EPS).sum()), int((diff < -EPS).sum())
    p = binomtest(losses, wins + losses, 0.5, alternative="greater").pvalue if losses else 1.0
    p_better = binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue if wins else 1.0
    mean_cand = float(cand.mean()) if len(cand) else 0.0
    mean_cur = float(cur.mean()) if len(cur) else 0.0
    worse = (
        bool(len(cand))
        and mean_cand < mean_cur - margin - EPS
        and bool(significance >= 1 or p < significance)
    )
    better = bool(wins) and mean_cand > mean_cur + EPS and bool(significance >= 1 or p_better < significance)
    return Comparison(len(cand), mean_cand, mean_cur, wins, losses, float(p), worse, float(p_better), better)
