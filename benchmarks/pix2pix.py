"""pix2pix tab: a translation per call (target p95 <= 200 ms, at 64 x 64 for the emoji) for a drawing and for a
picture; quality on held-out pairs for both data sets and both objectives: L1, SSIM, sharpness (and, for the emoji,
colourfulness) against the real pictures' (the paper's blur claim), and for garments whether the classifier reads
G(x) as y's class."""

import torch

from benchmarks.timing import Latency, measure
from core import pix2pix
from core.datasets import DatasetNotFoundError, load_sample, load_training_data
from core.emoji import load_emoji_sample
from core.metrics import accuracy, classifier_outputs, colourfulness, load_classifier, sharpness, ssim
from demos import pix2pix as tab

TARGET_MS = 200.0
HELD_OUT_GARMENTS = 2000  # the first 2,000 test images, as the cards measure


def handler_latency(calls: int) -> list[Latency]:
    rows = []
    for dataset in pix2pix.PAIRED_SETS:
        drawing = next(iter(tab.example_drawings(dataset).values()))
        picture = tab.held_out_pictures(dataset)[1][0]
        size = pix2pix.PAIRED_SETS[dataset].size
        rows += [
            measure(
                f"pix2pix {dataset} {size}x{size}: a drawing (both models, D's patch map)",
                lambda drawing=drawing, dataset=dataset: tab.translate(drawing, dataset, "drawing"),
                calls,
                target_p95_ms=TARGET_MS,
            ),
            measure(
                f"pix2pix {dataset} {size}x{size}: a picture (Canny, both models, L1/SSIM)",
                lambda picture=picture, dataset=dataset: tab.translate(picture, dataset, "picture"),
                calls,
                target_p95_ms=TARGET_MS,
            ),
            measure(
                f"pix2pix_compare {dataset} (8 held-out pairs x 2 models)",
                lambda dataset=dataset: tab.compare_held_out(dataset),
                max(3, calls // 4),
            ),
        ]
    return rows


def api_calls(image_path: str) -> dict[str, tuple]:
    from gradio_client import handle_file

    return {"/pix2pix": (handle_file(image_path), "fashion", "picture")}


def held_out_pairs(dataset: str) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    if dataset == "emoji":
        return load_emoji_sample().tensors(), None, "140 held-out emoji"
    try:
        x, y = load_training_data("test").tensors()
        return x[:HELD_OUT_GARMENTS], y[:HELD_OUT_GARMENTS], f"{HELD_OUT_GARMENTS} test garments"
    except DatasetNotFoundError:
        x, y = load_sample().tensors()
        return x, y, f"{len(x)} bundled test garments"


@torch.inference_mode()
def quality() -> dict[str, dict]:
    rows = {}
    classifier = load_classifier()
    for dataset, data in pix2pix.PAIRED_SETS.items():
        pictures, labels, described = held_out_pairs(dataset)
        edges = pix2pix.edges_of_pictures(pictures, data)
        for objective in pix2pix.OBJECTIVES:
            outputs = torch.cat(
                [pix2pix.load(dataset, objective).translate(edges[i : i + 500]) for i in range(0, len(edges), 500)]
            )
            row = {
                "held-out pairs": described,
                "L1": round(pix2pix.l1_loss(pictures, outputs).item(), 4),
                "SSIM": round(ssim(outputs, pictures).mean().item(), 4),
                "sharpness of G(x) / of real pictures": f"{sharpness(outputs):.4f} / {sharpness(pictures):.4f}",
            }
            if data.channels == 3:
                row["colourfulness of G(x) / of real pictures"] = (
                    f"{colourfulness(outputs):.3f} / {colourfulness(pictures):.3f}"
                )
            if labels is not None:
                predicted = classifier_outputs(classifier, outputs)[1]
                row["classifier reads G(x) as y's class"] = f"{accuracy(predicted, labels):.1%}"
            rows[pix2pix.CHECKPOINTS[(dataset, objective)]] = row
    return rows
