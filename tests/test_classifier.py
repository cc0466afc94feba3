from __future__ import annotations

import pytest

from core.checkpoints import load_model, read_card
from core.datasets import fashion_mnist_dir, load_fashion_mnist, load_sample
from core.metrics import EvalClassifier, accuracy, class_histogram, classifier_outputs, frechet_distance

FLOOR = 0.92  # the floor on the full test set (2-conv nets reach 0.925-0.932 on the dataset's benchmark)


@pytest.fixture(scope="module")
def model():
    return load_model(EvalClassifier, "classifier")


@pytest.mark.fast
def test_card_reports_the_floor_on_the_full_test_set():
    assert read_card("classifier")["metrics"]["test_accuracy"] >= FLOOR


@pytest.mark.skipif(fashion_mnist_dir() is None, reason="full Fashion-MNIST not installed")
def test_shipped_weights_meet_the_floor_on_the_full_test_set(model):
    x, y = load_fashion_mnist("test").tensors()
    assert accuracy(classifier_outputs(model, x)[1], y) >= FLOOR


def test_bundled_sample_accuracy(model):
    # 500 images: 0.92 minus two standard errors (sqrt(0.08 * 0.92 / 500) = 0.012) is 0.896.
    x, y = load_sample().tensors()
    assert accuracy(classifier_outputs(model, x)[1], y) >= 0.896


def test_features_separate_real_images_from_noise(model):
    import torch

    x, _ = load_sample().tensors()
    real_a, real_b = classifier_outputs(model, x[:250])[0], classifier_outputs(model, x[250:])[0]
    noise = classifier_outputs(model, torch.rand(250, 1, 28, 28, generator=torch.Generator().manual_seed(0)))[0]
    assert frechet_distance(real_a, noise) > 10 * frechet_distance(real_a, real_b)


def test_predictions_cover_every_class_on_the_balanced_sample(model):
    x, _ = load_sample().tensors()
    shares = class_histogram(classifier_outputs(model, x)[1])
    assert min(shares.values()) > 0.05
