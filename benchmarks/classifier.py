"""The evaluation classifier: accuracy on the bundled sample and (from its card) the full test set."""

from __future__ import annotations

from core.checkpoints import load_model, read_card
from core.datasets import load_sample
from core.metrics import EvalClassifier, accuracy, classifier_outputs


def quality() -> dict[str, dict]:
    x, y = load_sample().tensors()
    _, predictions = classifier_outputs(load_model(EvalClassifier, "classifier"), x)
    card = read_card("classifier")
    return {
        "classifier": {
            "sample_accuracy": round(accuracy(predictions, y), 4),
            "test_accuracy (card)": card["metrics"]["test_accuracy"],
            "train_seconds (card)": card["wall_seconds"],
        }
    }
