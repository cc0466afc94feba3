"""Recipes `pix2pix_fashion`, `pix2pix_fashion_l1`, `pix2pix_emoji`, `pix2pix_emoji_l1`: edges -> picture.

    python -m core.train pix2pix_fashion       # L1 + cGAN, Fashion-MNIST (about 12 minutes on 2 CPU cores)
    python -m core.train pix2pix_fashion_l1    # the same G trained on L1 alone
    python -m core.train pix2pix_emoji         # L1 + cGAN, Noto Color Emoji at 64 x 64
    python -m core.train pix2pix_emoji_l1

Pairs are made, as the paper's edges2shoes were: x = Canny edges of a picture y. Each step mirrors a minibatch
of pairs at random (and shifts emoji pairs by up to their 2-pixel margin), takes one step of D on log D(x, y) + log(1 − D(x, G(x))) (halved, as in the paper), then one
step of G on the non-saturating −log D(x, G(x)) + λ ||y − G(x)||_1 with λ = 100. The card measures L1 and SSIM
on held-out pairs and, for garments, whether the evaluation classifier reads G(x) as the class of y.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core import runtime
from core.checkpoints import save_model
from core.datasets import load_training_data
from core.emoji import load_emoji, load_emoji_sample
from core.gan import discriminator_loss, generator_loss_non_saturating
from core.metrics import accuracy, classifier_outputs, frechet_distance, classifier_if_trained, ssim
from core.pix2pix import (CHECKPOINTS, LAMBDA_L1, PAIRED_SETS, Pix2Pix, Pix2PixConfig, edges_of_pictures,
                          l1_loss)
from core.train.augment import mirror, shift
from core.train.common import (IntervalMeans, Stopwatch, endless_minibatches, learning_rate, make_card,
                               optimizer_step, output_root, progress, start_recipe)


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "fashion"  # "fashion" or "emoji"
    objective: str = "l1+cgan"  # or "l1"
    steps: int = 6000
    batch_size: int = 64
    lr: float = 2e-4  # Adam with beta1 = 0.5 for both networks, as in the paper
    beta1: float = 0.5
    warmup_steps: int = 0  # then cosine decay to a tenth
    lambda_l1: float = LAMBDA_L1
    base_channels: int = 32
    max_channels: int = 128
    eval_pairs: int = 2000  # held-out pairs measured for the card (all 140 held-out emoji)
    seed: int = 0
    bf16: str = "auto"
    dry_run: bool = False


DEFAULTS = {
    CHECKPOINTS[("fashion", "l1+cgan")]: TrainConfig(),
    CHECKPOINTS[("fashion", "l1")]: TrainConfig(objective="l1"),
    CHECKPOINTS[("emoji", "l1+cgan")]: TrainConfig(dataset="emoji", steps=5000, batch_size=32),
    CHECKPOINTS[("emoji", "l1")]: TrainConfig(dataset="emoji", objective="l1", steps=5000, batch_size=32),
}


def load_pictures(dataset: str, split: str, tiny: bool) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(pictures (N, C, S, S) in [0, 1], class labels or None, a description of the data)."""
    if dataset == "fashion":
        images, labels = load_training_data(split, tiny=tiny).tensors()
        return images, labels, f"Fashion-MNIST {split} ({len(images):,} images)"
    emoji = load_emoji_sample() if tiny or split == "test" else load_emoji().split("train")
    return emoji.tensors()[: 16 if tiny else None], None, f"Noto Color Emoji {split} split ({len(emoji):,} images)"


@torch.inference_mode()
def evaluate(model: Pix2Pix, edges: torch.Tensor, pictures: torch.Tensor, labels: torch.Tensor | None) -> dict:
    """L1 and SSIM of G(x) against y on held-out pairs; for garments, FD and whether the classifier agrees."""
    outputs = torch.cat([model.translate(edges[i : i + 250]) for i in range(0, len(edges), 250)])
    metrics = {"held_out_pairs": len(edges),
               "test_l1": round(l1_loss(pictures, outputs).item(), 4),
               "test_ssim": round(ssim(outputs, pictures).mean().item(), 4)}
    if labels is None:
        return metrics
    classifier = classifier_if_trained()
    if classifier is None:
        return metrics
    output_features, predicted = classifier_outputs(classifier, outputs)
    real_features, predicted_real = classifier_outputs(classifier, pictures)
    metrics |= {"classifier_reads_output_as_true_class": round(accuracy(predicted, labels), 4),
                "classifier_reads_original_as_true_class": round(accuracy(predicted_real, labels), 4),
                "fd_outputs_vs_originals": round(frechet_distance(output_features, real_features), 3)}
    return metrics


def main(cfg: TrainConfig) -> dict:
    name = CHECKPOINTS[(cfg.dataset, cfg.objective)]
    data = PAIRED_SETS[cfg.dataset]
    generator, device, bf16 = start_recipe(cfg)
    train_y, _, train_description = load_pictures(cfg.dataset, "train", cfg.dry_run)
    test_y, test_labels, test_description = load_pictures(cfg.dataset, "test", cfg.dry_run)
    n_eval = min(len(test_y), 16 if cfg.dry_run else cfg.eval_pairs)
    test_y, test_labels = test_y[:n_eval], None if test_labels is None else test_labels[:n_eval]
    train_x, test_x = edges_of_pictures(train_y, data), edges_of_pictures(test_y, data)

    model = Pix2Pix(Pix2PixConfig(dataset=cfg.dataset, objective=cfg.objective, base_channels=cfg.base_channels,
                                  max_channels=cfg.max_channels)).to(device).train()
    adversarial = model.discriminator is not None
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999)) if adversarial else None
    steps = 2 if cfg.dry_run else cfg.steps
    batches = endless_minibatches(len(train_y), cfg.batch_size, generator)
    curves = IntervalMeans(("l1", "g_adversarial", "d_loss"))
    clock = Stopwatch()
    bar = progress(steps, name)
    for step in range(steps):
        index = next(batches)
        x, y = shift(*mirror(train_x[index], train_y[index], generator=generator), max_shift=data.margin,
                     generator=generator)
        x, y = model.to_model(x).to(device), model.to_model(y).to(device)  # (B, 1, S, S), (B, C, S, S)
        lr = learning_rate(step, cfg)
        with runtime.autocast(bf16, device):
            y_hat = model.generator(x)
        d_loss = g_adversarial = torch.zeros(())
        if adversarial:  # D ascends L_cGAN on the pair (x, y) vs (x, G(x))
            with runtime.autocast(bf16, device):
                real_logits = model.discriminator(torch.cat([x, y], dim=1)).float()
                fake_logits = model.discriminator(torch.cat([x, y_hat.detach()], dim=1)).float()
            d_loss = 0.5 * discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss, lr)
            model.discriminator.requires_grad_(False)  # G's step: gradients through D, none into it
            with runtime.autocast(bf16, device):
                g_adversarial = generator_loss_non_saturating(model.discriminator(torch.cat([x, y_hat], dim=1)).float())
            model.discriminator.requires_grad_(True)
        l1 = l1_loss(y, y_hat.float())
        optimizer_step(opt_g, g_adversarial + cfg.lambda_l1 * l1, lr)
        curves.add(l1.item(), g_adversarial.item(), d_loss.item(), last=step + 1 == steps)
        bar.update(1)
        bar.set_postfix(l1=f"{l1.item():.3f}", g=f"{g_adversarial.item():.2f}", d=f"{d_loss.item():.2f}", refresh=False)
    bar.close()
    training_seconds = clock.seconds

    model = model.cpu().eval().half().float()  # stored as float16: measure the weights that ship
    metrics = {"training_seconds": training_seconds, "seconds_per_training_step": round(training_seconds / steps, 3),
               "objective": "non-saturating cGAN + λ L1" if adversarial else "L1 only", "lambda_l1": cfg.lambda_l1}
    metrics |= evaluate(model, test_x, test_y, test_labels)
    card = make_card(
        name, cfg, defaults=DEFAULTS[name],
        data=(f"pairs (Canny edges at sigma {data.canny_sigma}, picture): {train_description}, mirrored at random"
              + (f" and shifted by up to {data.margin} px; " if data.margin else "; ") +
              f"metrics on {n_eval} pairs of {test_description}") if not cfg.dry_run else "dry run: bundled sample",
        steps=steps, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves.curves,
    )
    folder = save_model(model, name, card, output_root(cfg.dry_run), storage_dtype=torch.float16)
    print(f"{name}: {metrics}; wrote {folder}")
    return card
