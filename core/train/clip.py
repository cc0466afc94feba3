"""Recipe `clip`: a small CLIP trained from scratch on captioned Fashion-MNIST and Noto Color Emoji.

    python -m core.train clip     # about 30 minutes on 2 CPU cores

Each batch mixes garments (a fresh varied caption each time: template, synonym, sometimes brightness) and emoji
(captioned with their Unicode names). Held out: the Fashion-MNIST test set and every tenth emoji.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import CLIPModel

from core.captions import EMOJI_TEMPLATES, all_caption_words, emoji_caption, fashion_caption
from core.clip import (
    CLIPBundle,
    CLIPSize,
    build_tokenizer,
    clip_config,
    clip_logits,
    contrastive_loss,
    cosine_similarities,
    recall_at_k,
    to_pixel_values,
    zero_shot_predictions,
)
from core.datasets import FASHION_CLASSES
from core.emoji import load_emoji, load_emoji_sample
from core.metrics import accuracy, confusion_matrix
from core.train.common import fashion_mnist
from core.train.loop import Recipe, Run, TrainConfig, option

EMOJI_PER_BATCH = 32


@dataclass(frozen=True)
class CLIPTrainConfig(TrainConfig):
    model: CLIPSize = option(CLIPSize(), "width and depth of both transformers, patch size, joint space")
    steps: int = 5 * (60_000 // (256 - EMOJI_PER_BATCH))  # 5 passes over the 60,000 garments
    batch_size: int = 256
    emoji_per_batch: int = option(EMOJI_PER_BATCH, "emoji in each batch (the rest are garments)")
    lr: float = 5e-4  # AdamW
    warmup_steps: int = 200
    final_lr_fraction: float = 0.0
    weight_decay: float = option(0.1, "AdamW's weight decay on matrices (none on gains, biases, logit scale)")


@torch.inference_mode()
def evaluate(bundle: CLIPBundle, test_x: torch.Tensor, test_y: torch.Tensor, emoji_sets: dict) -> dict:
    """Zero-shot accuracy on the Fashion-MNIST test set with the paper's template, and text -> image retrieval on
    the emoji (each name retrieves among all images of its split)."""
    predictions = zero_shot_predictions(bundle, test_x)
    test_y = test_y.cpu()
    confusion = confusion_matrix(test_y, predictions, len(FASHION_CLASSES))
    metrics = {
        "zero_shot_accuracy": round(accuracy(predictions, test_y), 4),
        "zero_shot_per_class": {
            name: round(confusion[c, c].item() / max(1, confusion[c].sum().item()), 4)
            for c, name in enumerate(FASHION_CLASSES)
        },
        "logit_scale": round(bundle.logit_scale, 2),
    }
    for part, emoji in emoji_sets.items():
        similarity = cosine_similarities(bundle.embed_texts(list(emoji.names)), bundle.embed_images(emoji.tensors()))
        metrics[f"emoji_{part}_retrieval_r1"] = round(recall_at_k(similarity, 1), 4)
        metrics[f"emoji_{part}_retrieval_r5"] = round(recall_at_k(similarity, 5), 4)
        metrics[f"emoji_{part}_count"] = len(emoji)
    return metrics


class CLIPRecipe(Recipe):
    data_note = (
        "Fashion-MNIST train (60,000, varied captions) + Noto Color Emoji train split (Unicode names); "
        "metrics: Fashion-MNIST test (10,000) zero-shot, emoji retrieval on both splits"
    )

    def setup(self, run: Run) -> None:
        cfg = self.cfg
        self.captions_rng = random.Random(run.process_seed)
        self.train_x, self.train_y, self.test_x, self.test_y = fashion_mnist(run.dry_run)
        if run.dry_run:  # the bundled held-out emoji stand in, so a dry run needs no font
            self.emoji_train, self.emoji_test = load_emoji_sample().take(64), load_emoji_sample().take(16)
        else:
            emoji = load_emoji()
            self.emoji_train, self.emoji_test = emoji.split("train"), emoji.split("test")
        self.emoji_images = self.emoji_train.tensors()
        # The vocabulary: every word the caption generators can produce, and the names of the training emoji only,
        # so that held-out emoji names contain words the model has never seen (the app flags them).
        names = [t.format(n) for t in EMOJI_TEMPLATES for n in self.emoji_train.names]
        self.tokenizer = build_tokenizer(all_caption_words() + names)
        self.clip = CLIPModel(clip_config(len(self.tokenizer), cfg.model))
        self.bundle = CLIPBundle(self.clip, self.tokenizer)
        self.models = {"clip": self.clip}
        # as in CLIP: no weight decay on gains, biases and the logit scale (it would pull the temperature up)
        matrices = [p for p in self.clip.parameters() if p.dim() >= 2]
        others = [p for p in self.clip.parameters() if p.dim() < 2]
        run.add_optimizer(
            "adamw",
            torch.optim.AdamW(
                [{"params": matrices, "weight_decay": cfg.weight_decay}, {"params": others, "weight_decay": 0.0}],
                lr=cfg.lr,
            ),
        )
        garments_per_batch = cfg.batch_size - cfg.emoji_per_batch
        self.held_out_every = max(1, len(self.train_x) // garments_per_batch)  # once per pass over the garments
        self.garment_order = run.minibatches(len(self.train_x), garments_per_batch)
        self.emoji_order = run.minibatches(len(self.emoji_images), cfg.emoji_per_batch)

    def train_step(self, run: Run) -> tuple[float, ...]:
        g, e = next(self.garment_order), next(self.emoji_order)
        garments = self.train_x[g]
        flips = torch.rand(len(g), generator=run.rng) < 0.5  # garments are left-right symmetric enough
        garments = torch.where(flips.view(-1, 1, 1, 1), garments.flip(-1), garments)
        rng = self.captions_rng
        captions = [fashion_caption(int(label), image, rng) for label, image in zip(self.train_y[g], garments)]
        captions += [emoji_caption(self.emoji_train.names[i], rng) for i in e.tolist()]
        pixels = torch.cat([to_pixel_values(garments), to_pixel_values(self.emoji_images[e])]).to(run.device)
        with run.autocast():
            image_features = self.clip.get_image_features(pixel_values=pixels).pooler_output
            text_features = self.bundle.text_features(captions)
        # identical captions (common among garments of one class) are not each other's negatives
        index = {caption: i for i, caption in enumerate(dict.fromkeys(captions))}
        caption_ids = torch.tensor([index[c] for c in captions], device=run.device)
        same_caption = caption_ids.unsqueeze(0) == caption_ids.unsqueeze(1)
        logits = clip_logits(image_features.float(), text_features.float(), self.clip.logit_scale)
        loss = contrastive_loss(logits, same_caption)
        run.update("adamw", loss)
        return (loss.item(),)

    def postfix(self, values: tuple[float, ...]) -> dict[str, str]:
        return {"loss": f"{values[0]:.3f}", "scale": f"{self.bundle.logit_scale:.1f}"}

    def held_out(self, run: Run) -> dict[str, float]:
        self.clip.eval()
        with torch.inference_mode():
            quick = accuracy(zero_shot_predictions(self.bundle, self.test_x[:1000]), self.test_y[:1000])
        return {"zero_shot_accuracy_on_1000_test": round(quick, 4)}

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = self.clip.cpu().eval()
        splits = {"train": self.emoji_train, "test": self.emoji_test}
        metrics = evaluate(self.bundle, self.test_x, self.test_y, splits)
        metrics["vocabulary_size"] = len(self.tokenizer)
        return model, metrics

    def after_save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(str(folder))
