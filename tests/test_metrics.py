from __future__ import annotations

import numpy as np
import pytest
import torch

from core.metrics import class_histogram, confusion_matrix, frechet_distance, mse, psnr, ranking_auc

pytestmark = pytest.mark.fast


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


def test_confusion_matrix_counts_true_class_by_predicted_class():
    labels, predictions = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 2])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert torch.equal(confusion_matrix(labels, predictions, num_classes=3), expected)
    rng = torch.Generator().manual_seed(0)
    labels, predictions = torch.randint(10, (500,), generator=rng), torch.randint(10, (500,), generator=rng)
    counted = torch.zeros(10, 10, dtype=torch.long)
    for i, j in zip(labels.tolist(), predictions.tolist()):
        counted[i, j] += 1
    assert torch.equal(confusion_matrix(labels, predictions), counted)


def brute_force_auc(positive: list[float], negative: list[float]) -> float:
    pairs = [(p > n) + 0.5 * (p == n) for p in positive for n in negative]
    return sum(pairs) / len(pairs)


@pytest.mark.parametrize("seed", range(4))
def test_ranking_auc_is_the_share_of_correctly_ordered_pairs(seed):
    rng = torch.Generator().manual_seed(seed)
    positive = torch.randint(0, 8, (37,), generator=rng).float() / 8 + 0.1  # few values: many ties
    negative = torch.randint(0, 8, (23,), generator=rng).float() / 8
    assert ranking_auc(positive, negative) == pytest.approx(brute_force_auc(positive.tolist(), negative.tolist()))


def test_ranking_auc_ends_and_middle():
    assert ranking_auc(torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.2, 0.3])) == 1.0
    assert ranking_auc(torch.tensor([0.1]), torch.tensor([0.9, 0.8])) == 0.0
    assert ranking_auc(torch.full((5,), 0.5), torch.full((3,), 0.5)) == 0.5  # all tied: cannot tell
