from __future__ import annotations

import numpy as np
import pytest
import torch

from core.metrics import class_histogram, frechet_distance, mse, psnr


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(2000, 8))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_closed_form_for_gaussians():
    # N(m, I) vs N(0, 4I) in d dims: ||m||^2 + d (1 + 4 - 2 * 2) = ||m||^2 + d
    rng = np.random.default_rng(1)
    d, n = 4, 200_000
    a = rng.normal(size=(n, d)) + 3.0
    b = rng.normal(size=(n, d)) * 2.0
    assert frechet_distance(a, b) == pytest.approx(9.0 * d + d, rel=0.02)


def test_psnr_of_a_known_error():
    x = torch.zeros(1, 1, 4, 4)
    y = torch.full((1, 1, 4, 4), 0.1)  # MSE 0.01 -> 20 dB
    assert psnr(x, y).item() == pytest.approx(20.0, abs=1e-4)
    assert mse(x, y).item() == pytest.approx(0.01)


def test_class_histogram_shares_sum_to_one():
    shares = class_histogram(torch.tensor([0, 0, 1, 9]))
    assert shares["T-shirt/top"] == 0.5 and shares["Ankle boot"] == 0.25 and sum(shares.values()) == pytest.approx(1.0)
