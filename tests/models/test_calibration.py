import numpy as np

from workflowd.models.calibration import expected_calibration_error, fit_temperature
from workflowd.models.classifier import softmax


def test_fit_temperature_recovers_the_true_one() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 4)) * 2
    y = np.array([rng.choice(4, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 3  # what a model that saw too few examples produces
    t = fit_temperature(overconfident, y)
    assert 2.5 < t < 3.5
    assert expected_calibration_error(softmax(overconfident / t), y) < expected_calibration_error(
        softmax(overconfident), y)
