"""Unpaired translation tab: one translation with its cycle and error map per call (target p95 <= 200 ms);
quality on the test set's sneakers and ankle boots: share of translations the classifier reads as the target
class, the same share for untranslated inputs, and the mean cycle L1, in both directions."""

import torch

from benchmarks.timing import Latency, measure
from core import unpaired
from core.datasets import DatasetNotFoundError, load_sample, load_training_data
from core.metrics import classifier_outputs, load_classifier
from demos import unpaired as tab

TARGET_MS = 200.0


def handler_latency(calls: int) -> list[Latency]:
    image = tab.held_out_examples()[0][0]
    return [
        measure(
            "translate (one shoe: translation, cycle, error map, classifier)",
            lambda: tab.translate(image, "u->v"),
            calls,
            target_p95_ms=TARGET_MS,
        ),
        measure("unpaired grid (8 + 8 shoes, both directions)", tab.translate_grid, max(3, calls // 4)),
    ]


def api_calls(image_path: str) -> dict[str, tuple]:
    from gradio_client import handle_file

    return {"/translate": (handle_file(image_path), "u->v")}


@torch.inference_mode()
def quality() -> dict[str, dict]:
    try:
        x, labels = load_training_data("test").tensors()
        described = "test set"
    except DatasetNotFoundError:
        x, labels = load_sample().tensors()
        described = "bundled sample"
    model, classifier = unpaired.load(), load_classifier()
    config, names = model.config, model.domain_names
    row = {}
    for direction, source, target, (source_name, target_name) in (
        ("u->v", config.domain_u, config.domain_v, names),
        ("v->u", config.domain_v, config.domain_u, names[::-1]),
    ):
        images = x[labels == source]
        translated, cycled = model.cycle(images, direction)
        hits = (classifier_outputs(classifier, translated)[1] == target).float().mean().item()
        before = (classifier_outputs(classifier, images)[1] == target).float().mean().item()
        label = f"{source_name} → {target_name} ({len(images)} of the {described})"
        row[f"{label}: read as {target_name}"] = f"{hits:.1%} (untranslated {before:.1%})"
        row[f"{label}: mean cycle L1"] = round((images - cycled).abs().mean().item(), 4)
    return {unpaired.CHECKPOINT: row}
