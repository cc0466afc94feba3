"""Recipes `pix2pix_fashion`, `pix2pix_fashion_l1`, `pix2pix_emoji`, `pix2pix_emoji_l1`: edges -> picture.

    python -m core.train pix2pix_fashion       # L1 + cGAN, Fashion-MNIST (about 12 minutes on 2 CPU cores)
    python -m core.train pix2pix_fashion_l1    # the same G trained on L1 alone
    python -m core.train pix2pix_emoji         # L1 + cGAN, Noto Color Emoji at 64 x 64
    python -m core.train pix2pix_emoji_l1

Pairs are made, as the paper's edges2shoes were: x = Canny edges of a picture y. Each step mirrors a minibatch
of pairs at random (and shifts emoji pairs by up to their 2-pixel margin), takes one step of D on
log D(x, y) + log(1 − D(x, G(x))) (halved, as in the paper), then one step of G on the non-saturating
−log D(x, G(x)) + λ ||y − G(x)||_1 with λ = 100 (core.pix2pix.generator_objective). The card measures L1 and SSIM
on held-out pairs and, for garments, whether the evaluation classifier reads G(x) as the class of y.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.datasets import load_training_data
from core.emoji import load_emoji, load_emoji_sample
from core.metrics import accuracy, classifier_if_trained, classifier_outputs, frechet_distance, ssim
from core.pix2pix import (
    CHECKPOINTS,
    LAMBDA_L1,
    PAIRED_SETS,
    Pix2Pix,
    Pix2PixConfig,
    discriminator_objective,
    edges_of_pictures,
    generator_objective,
    l1_loss,
)
from core.train.augment import mirror, shift
from core.train.loop import Recipe, Run, TrainConfig, option


@dataclass(frozen=True)
class Pix2PixTrainConfig(TrainConfig):
    model: Pix2PixConfig = option(Pix2PixConfig(), "data set, objective (l1+cgan or l1) and widths of G and D")
    steps: int = 6000
    batch_size: int = 64
    lr: float = 2e-4  # Adam with beta1 = 0.5 for both networks, as in the paper
    beta1: float = option(0.5, "Adam's β₁ for G and D (the paper's 0.5)")
    lambda_l1: float = option(LAMBDA_L1, "λ of L_cGAN + λ·L1 (the paper's 100)")
    eval_pairs: int = option(2000, "held-out pairs measured for the card (all 140 held-out emoji)")


def _emoji(objective: str) -> Pix2PixTrainConfig:
    return Pix2PixTrainConfig(model=Pix2PixConfig(dataset="emoji", objective=objective), steps=5000, batch_size=32)


DEFAULTS = {
    CHECKPOINTS[("fashion", "l1+cgan")]: Pix2PixTrainConfig(),
    CHECKPOINTS[("fashion", "l1")]: Pix2PixTrainConfig(model=Pix2PixConfig(objective="l1")),
    CHECKPOINTS[("emoji", "l1+cgan")]: _emoji("l1+cgan"),
    CHECKPOINTS[("emoji", "l1")]: _emoji("l1"),
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
    metrics = {
        "held_out_pairs": len(edges),
        "test_l1": round(l1_loss(pictures, outputs).item(), 4),
        "test_ssim": round(ssim(outputs, pictures).mean().item(), 4),
    }
    classifier = classifier_if_trained()
    if labels is None or classifier is None:
        return metrics
    output_features, predicted = classifier_outputs(classifier, outputs)
    real_features, predicted_real = classifier_outputs(classifier, pictures)
    return metrics | {
        "classifier_reads_output_as_true_class": round(accuracy(predicted, labels), 4),
        "classifier_reads_original_as_true_class": round(accuracy(predicted_real, labels), 4),
        "fd_outputs_vs_originals": round(frechet_distance(output_features, real_features), 3),
    }


class Pix2PixRecipe(Recipe):
    curve_names = ("l1", "g_adversarial", "d_loss")
    storage_dtype = torch.float16  # measured after rounding: `finish` evaluates the weights that ship

    @property
    def checkpoint_name(self) -> str:
        return CHECKPOINTS[(self.cfg.model.dataset, self.cfg.model.objective)]

    def setup(self, run: Run) -> None:
        cfg, self.data = self.cfg, PAIRED_SETS[self.cfg.model.dataset]
        self.train_y, _, train_description = load_pictures(cfg.model.dataset, "train", run.dry_run)
        test_y, test_labels, test_description = load_pictures(cfg.model.dataset, "test", run.dry_run)
        n_eval = min(len(test_y), run.sized(cfg.eval_pairs, 16))
        self.test_y, self.test_labels = test_y[:n_eval], None if test_labels is None else test_labels[:n_eval]
        self.train_x, self.test_x = (
            edges_of_pictures(self.train_y, self.data),
            edges_of_pictures(self.test_y, self.data),
        )
        self.data_note = (
            f"pairs (Canny edges at sigma {self.data.canny_sigma}, picture): {train_description}, "
            "mirrored at random"
            + (f" and shifted by up to {self.data.margin} px; " if self.data.margin else "; ")
            + f"metrics on {n_eval} pairs of {test_description}"
        )
        self.pix2pix = Pix2Pix(cfg.model)
        self.models = {"pix2pix": self.pix2pix}
        betas = (cfg.beta1, 0.999)
        run.add_optimizer("g", torch.optim.Adam(self.pix2pix.generator.parameters(), lr=cfg.lr, betas=betas))
        if self.pix2pix.discriminator is not None:
            run.add_optimizer("d", torch.optim.Adam(self.pix2pix.discriminator.parameters(), lr=cfg.lr, betas=betas))
        self.order = run.minibatches(len(self.train_y), cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        model, index = self.pix2pix, next(self.order)
        x, y = mirror(self.train_x[index], self.train_y[index], generator=run.rng)
        x, y = shift(x, y, max_shift=self.data.margin, generator=run.rng)
        x, y = model.to_model(x).to(run.device), model.to_model(y).to(run.device)  # (B, 1, S, S), (B, C, S, S)
        with run.autocast():
            y_hat = model.generator(x)
        d_loss, fake_logits = torch.zeros(()), None
        if model.discriminator is not None:  # D ascends L_cGAN on the pair (x, y) vs (x, G(x))
            with run.autocast():
                real_logits = model.discriminator(torch.cat([x, y], dim=1)).float()
                fake_logits = model.discriminator(torch.cat([x, y_hat.detach()], dim=1)).float()
            d_loss = discriminator_objective(real_logits, fake_logits)
            run.update("d", d_loss)
            with run.autocast():  # G's step: gradients through D (run.update keeps them out of D's weights)
                fake_logits = model.discriminator(torch.cat([x, y_hat], dim=1)).float()
        g = generator_objective(fake_logits, y, y_hat.float(), self.cfg.lambda_l1)
        run.update("g", g.total)
        return g.l1.item(), g.adversarial.item(), d_loss.item()

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = self.pix2pix.cpu().eval().half().float()  # stored as float16: measure the weights that ship
        adversarial = model.discriminator is not None
        metrics = {
            "objective": "non-saturating cGAN + λ L1" if adversarial else "L1 only",
            "lambda_l1": self.cfg.lambda_l1,
        }
        return model, metrics | evaluate(model, self.test_x, self.test_y, self.test_labels)
