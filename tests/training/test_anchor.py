"""L2-SP: weights trained further are pulled back towards where they started."""

from __future__ import annotations

import pytest
import torch

from workflowd.training.common import Anchor


def test_penalty_is_the_squared_distance_from_the_start() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    anchor = Anchor([w], 0.5)
    assert float(anchor.penalty().detach()) == 0.0
    with torch.no_grad():
        w += torch.tensor([1.0, -2.0])
    assert float(anchor.penalty().detach()) == pytest.approx(0.5 * (1 + 4))
    assert Anchor([w], 0.0).penalty() == 0.0  # off: no cost, no copy


def test_gradient_steps_stay_closer_with_an_anchor() -> None:
    def train(strength: float) -> float:
        w = torch.nn.Parameter(torch.zeros(3))
        anchor = Anchor([w], strength)
        opt = torch.optim.SGD([w], lr=0.1)
        for _ in range(100):
            loss = ((w - 1.0) ** 2).sum() + anchor.penalty()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(w.detach().norm())

    free, held = train(0.0), train(1.0)
    assert free == pytest.approx(3**0.5, rel=1e-3) and held == pytest.approx(3**0.5 / 2, rel=1e-3)
