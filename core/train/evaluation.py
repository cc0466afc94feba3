"""What several recipes measure into their cards: the evaluation classifier's view of generated samples."""

from __future__ import annotations

from collections.abc import Callable

import torch

from core.checkpoints import read_card, write_card
from core.metrics import (
    class_consistency,
    class_consistency_by_class,
    class_histogram,
    classifier_if_trained,
    classifier_outputs,
    frechet_distance,
)
from core.train.common import Stopwatch

DRY_RUN_SAMPLER_TABLE = (("ddim", 2), ("dpm++", 2))  # a dry run's (sampler, steps) rows: two steps each


@torch.inference_mode()
def sample_quality(
    samples: torch.Tensor,
    test_x: torch.Tensor | None,
    requested: torch.Tensor | None = None,
    fd_key: str = "fd_samples_vs_test",
    test_features: torch.Tensor | None = None,
) -> dict:
    """Fréchet distance of samples (N, 1, 28, 28) in [0, 1] to the test images on the evaluation classifier's
    features, the classes the samples fall into (mode coverage) and, given the classes asked for, how often the
    classifier reads the asked class. Empty without a trained classifier (a fresh clone trains it first).
    test_features: the classifier's features of test_x, when a caller measuring many sets has them already."""
    classifier = classifier_if_trained()
    if classifier is None:
        return {}
    features, predictions = classifier_outputs(classifier, samples)
    if test_features is None:
        test_features, _ = classifier_outputs(classifier, test_x)
    shares = class_histogram(predictions)
    metrics = {
        fd_key: round(frechet_distance(features, test_features), 3),
        "min_class_share_of_samples": min(shares.values()),
        "class_shares_of_samples": shares,
    }
    if requested is not None:
        metrics["class_consistency"] = round(class_consistency(predictions, requested), 4)
        metrics["class_consistency_by_class"] = class_consistency_by_class(predictions, requested)
    return metrics


def remeasure_card(name: str, measure: Callable[[], dict], dry_run: bool = False) -> dict:
    """`--evaluate-only`: the bundled checkpoint `name` measured again by today's evaluation code; its card's metrics
    updated with what `measure()` returns and the run noted under "evaluated" (written unless dry_run)."""
    card = read_card(name)
    clock = Stopwatch()
    card["metrics"] |= measure()
    card["evaluated"] = {
        "command": f"python -m core.train {name} --evaluate-only",
        "code_commit": clock.commit,
        "seconds": clock.seconds,
    }
    if not dry_run:
        write_card(name, card)
    print(f"{name}: {card['metrics']}")
    return card
