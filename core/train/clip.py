"""Recipe `clip`: a small CLIP trained from scratch on captioned Fashion-MNIST and Noto Color Emoji.

    python -m core.train clip     # about 30 minutes on 2 CPU cores

Each batch mixes garments (a fresh varied caption each time: template, synonym, sometimes brightness) and emoji
(captioned with their Unicode names). Held out: the Fashion-MNIST test set and every tenth emoji.
"""
import math
import random
from dataclasses import dataclass

import torch
from transformers import CLIPModel

from core import runtime
from core.checkpoints import save_model
from core.captions import EMOJI_TEMPLATES, all_caption_words, emoji_caption, fashion_caption
from core.clip import (CLIPBundle, CLIPSize, build_tokenizer, clip_config, clip_logits, contrastive_loss,
                       cosine_similarities, recall_at_k, to_pixel_values, zero_shot_predictions)
from core.datasets import FASHION_CLASSES
from core.emoji import load_emoji, load_emoji_sample
from core.metrics import accuracy
from core.train.common import (Stopwatch, endless_minibatches, make_card, output_root, progress, start_recipe,
                               fashion_mnist)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5  # passes over the 60,000 garments
    batch_size: int = 256
    emoji_per_batch: int = 32  # of the batch; the emoji set is small, so it is seen many times
    lr: float = 5e-4  # AdamW, cosine decay after a short warm-up
    weight_decay: float = 0.1
    warmup_steps: int = 200
    hidden: int = 128
    layers: int = 4
    seed: int = 0
    bf16: str = "auto"
    dry_run: bool = False


@torch.inference_mode()
def evaluate(bundle: CLIPBundle, test_x: torch.Tensor, test_y: torch.Tensor, emoji_sets: dict) -> dict:
    """Zero-shot accuracy on the Fashion-MNIST test set with the paper's template, and text -> image retrieval on
    the emoji (each name retrieves among all images of its split)."""
    predictions = zero_shot_predictions(bundle, test_x)
    test_y = test_y.cpu()
    confusion = torch.zeros(len(FASHION_CLASSES), len(FASHION_CLASSES), dtype=torch.long)
    confusion.index_put_((test_y, predictions), torch.ones_like(test_y), accumulate=True)
    metrics = {"zero_shot_accuracy": round(accuracy(predictions, test_y), 4),
               "zero_shot_per_class": {name: round(confusion[c, c].item() / max(1, confusion[c].sum().item()), 4)
                                       for c, name in enumerate(FASHION_CLASSES)},
               "logit_scale": round(bundle.logit_scale, 2)}
    for part, emoji in emoji_sets.items():
        similarity = cosine_similarities(bundle.embed_texts(list(emoji.names)), bundle.embed_images(emoji.tensors()))
        metrics[f"emoji_{part}_retrieval_r1"] = round(recall_at_k(similarity, 1), 4)
        metrics[f"emoji_{part}_retrieval_r5"] = round(recall_at_k(similarity, 5), 4)
        metrics[f"emoji_{part}_count"] = len(emoji)
    return metrics


def main(cfg: TrainConfig) -> dict:
    generator, device, bf16 = start_recipe(cfg)
    rng = random.Random(cfg.seed)
    train_x, train_y, test_x, test_y = fashion_mnist(cfg.dry_run)
    if cfg.dry_run:  # the bundled held-out emoji stand in, so a dry run needs no font
        emoji_train, emoji_test = load_emoji_sample().take(64), load_emoji_sample().take(16)
    else:
        emoji = load_emoji()
        emoji_train, emoji_test = emoji.split("train"), emoji.split("test")
    emoji_images = emoji_train.tensors()

    # The vocabulary: every word the caption generators can produce, and the names of the training emoji only,
    # so that held-out emoji names contain words the model has never seen (the tab flags them).
    tokenizer = build_tokenizer(all_caption_words() + [t.format(n) for t in EMOJI_TEMPLATES for n in emoji_train.names])
    size = CLIPSize(hidden=cfg.hidden, layers=cfg.layers)
    model = CLIPModel(clip_config(len(tokenizer), size)).to(device).train()
    bundle = CLIPBundle(model, tokenizer)
    # as in CLIP: no weight decay on gains, biases and the logit scale (it would pull the temperature up)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": cfg.weight_decay},
                                   {"params": others, "weight_decay": 0.0}], lr=cfg.lr)
    garments_per_batch = cfg.batch_size - cfg.emoji_per_batch
    steps_per_epoch = 2 if cfg.dry_run else len(train_x) // garments_per_batch
    total = steps_per_epoch * (1 if cfg.dry_run else cfg.epochs)
    # linear warm-up, then cosine decay to zero over the run
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / cfg.warmup_steps)
                                                 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    garment_batches = endless_minibatches(len(train_x), garments_per_batch, generator)
    emoji_batches = endless_minibatches(len(emoji_images), cfg.emoji_per_batch, generator)
    curves = {"loss": [], "zero_shot_accuracy_on_1000_test": []}
    clock = Stopwatch()
    bar = progress(total, "clip")
    running = 0.0
    for step in range(1, total + 1):
        g, e = next(garment_batches), next(emoji_batches)
        garments = train_x[g]
        flips = torch.rand(len(g), generator=generator) < 0.5  # garments are left-right symmetric enough
        garments = torch.where(flips.view(-1, 1, 1, 1), garments.flip(-1), garments)
        captions = [fashion_caption(int(label), image, rng) for label, image in zip(train_y[g], garments)]
        captions += [emoji_caption(emoji_train.names[i], rng) for i in e.tolist()]
        pixels = torch.cat([to_pixel_values(garments), to_pixel_values(emoji_images[e])]).to(device)
        with runtime.autocast(bf16, device):
            image_features = model.get_image_features(pixel_values=pixels).pooler_output
            text_features = bundle.text_features(captions)
        # identical captions (common among garments of one class) are not each other's negatives
        index = {caption: i for i, caption in enumerate(dict.fromkeys(captions))}
        caption_ids = torch.tensor([index[c] for c in captions], device=device)
        same_caption = caption_ids.unsqueeze(0) == caption_ids.unsqueeze(1)
        loss = contrastive_loss(clip_logits(image_features.float(), text_features.float(), model.logit_scale),
                                same_caption)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        running += loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", scale=f"{bundle.logit_scale:.1f}", refresh=False)
        if step % steps_per_epoch == 0:
            model.eval()
            with torch.inference_mode():
                quick = accuracy(zero_shot_predictions(bundle, test_x[:1000]), test_y[:1000])
            model.train()
            curves["loss"].append(round(running / steps_per_epoch, 4))
            curves["zero_shot_accuracy_on_1000_test"].append(round(quick, 4))
            running = 0.0
    bar.close()

    model = model.cpu().eval()
    metrics = evaluate(bundle, test_x, test_y, {"train": emoji_train, "test": emoji_test})
    metrics["vocabulary_size"] = len(tokenizer)
    card = make_card(
        "clip", cfg, defaults=TrainConfig(),
        data="Fashion-MNIST train (60,000, varied captions) + Noto Color Emoji train split (Unicode names); "
             "metrics: Fashion-MNIST test (10,000) zero-shot, emoji retrieval on both splits"
        if not cfg.dry_run else "dry run: 64 bundled-sample images and 64 emoji",
        steps=total, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves,
    )
    folder = save_model(model, "clip", card, output_root(cfg.dry_run))
    tokenizer.save_pretrained(str(folder))
    print(f"clip: {metrics}; wrote {folder}")
    return card
