"""CLIP tab: scoring an image against 10 texts (target p95 <= 50 ms), the similarity matrix and zero-shot handlers,
and quality: zero-shot accuracy on the sample and the test set (card), text -> image retrieval on the emoji."""

import torch

from benchmarks.timing import Latency, measure
from core import clip
from core.captions import CLASS_PROMPT_NAMES
from core.checkpoints import read_card
from core.datasets import load_sample
from core.emoji import load_emoji_sample
from core.metrics import accuracy
from demos import clip as tab
from demos.common import sample_image

SCORE_TARGET_MS = 50.0
TEN_TEXTS = "\n".join(f"a photo of a {name}" for name in CLASS_PROMPT_NAMES)


def handler_latency(calls: int) -> list[Latency]:
    image = sample_image(7)
    return [
        measure(
            "clip_score (1 image, 10 texts)", lambda: tab.score(image, TEN_TEXTS), calls, target_p95_ms=SCORE_TARGET_MS
        ),
        measure("clip similarity matrix (10 x 10)", tab.similarity_matrix, max(3, calls // 3)),
        measure(
            "clip_zero_shot (500 images, first call per template; later calls are cached)",
            lambda: tab._sample_predictions.__wrapped__("a photo of a {}"),
            max(3, calls // 5),
        ),
    ]


def api_calls(image_path: str) -> dict[str, tuple]:
    from gradio_client import handle_file

    return {"/clip_score": (handle_file(image_path), TEN_TEXTS, "auto")}


@torch.inference_mode()
def quality() -> dict[str, dict]:
    bundle = clip.load_bundle()
    x, y = load_sample().tensors()
    emoji = load_emoji_sample()
    similarity = clip.cosine_similarities(bundle.embed_texts(list(emoji.names)), bundle.embed_images(emoji.tensors()))
    card = read_card("clip")["metrics"]
    return {
        "clip": {
            "zero-shot accuracy, 500 sample images": round(accuracy(clip.zero_shot_predictions(bundle, x), y), 4),
            "zero-shot accuracy, 10,000 test images (card)": card["zero_shot_accuracy"],
            f"emoji text -> image R@1 / R@5, {len(emoji)} held out": f"{clip.recall_at_k(similarity, 1):.3f} / "
            f"{clip.recall_at_k(similarity, 5):.3f}",
            "emoji R@1 / R@5, training emoji (card)": f"{card['emoji_train_retrieval_r1']} / {card['emoji_train_retrieval_r5']}",
            "learned scale exp(t)": round(bundle.logit_scale, 2),
            "train_seconds (card)": read_card("clip")["wall_seconds"],
        }
    }
