"""Recipe `ddpm`: the pixel-space ε-predictor on Fashion-MNIST with the DDPM paper's simplified loss.

    python -m core.train ddpm      # about 45 minutes on 2 CPU cores (bf16 autocast)

Each step: x_0 from the data (in [−1, 1], mirrored half the time), t uniform in 1..T, ε ~ N(0, I),
x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, and a gradient step on ‖ε − ε_θ(x_t, t)‖². The shipped weights are an exponential
moving average of the trained ones (as in the paper). The card measures 1,000 DDIM-50 samples against the test set.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from core import runtime
from core.checkpoints import save_model
from core.diffusion import (NUM_TRAIN_STEPS, ALPHA_END, ALPHA_START, DiffusionUNet, UNetConfig, alpha_bar,
                            ddim_sample, last_step, noise_schedule, q_sample, simple_loss, to_image_range,
                            to_model_range)
from core.metrics import class_histogram, classifier_outputs, frechet_distance, classifier_if_trained
from core.train.augment import random_flip_and_shift
from core.train.common import (IntervalMeans, Stopwatch, ema_update, endless_minibatches, learning_rate, make_card,
                               optimizer_step, output_root, progress, start_recipe, fashion_mnist)


@dataclass(frozen=True)
class TrainConfig:
    channels: tuple[int, ...] = (32, 64, 128)  # U-Net widths at 28, 14, 7 px
    blocks_per_level: int = 1
    steps: int = 4000
    batch_size: int = 128
    lr: float = 5e-4  # Adam; linear warm-up, then cosine decay to a tenth
    warmup_steps: int = 200
    ema_decay: float = 0.999
    eval_samples: int = 1000
    eval_ddim_steps: int = 50
    seed: int = 0
    bf16: str = "auto"
    dry_run: bool = False


@torch.inference_mode()
def loss_by_timestep(model, x0: torch.Tensor, alpha_bars: torch.Tensor, generator: torch.Generator,
                     buckets: int = 10) -> list[float]:
    """The simplified loss on held-out images, in `buckets` equal ranges of t: how hard denoising is at each noise level."""
    losses = []
    edges = torch.linspace(0, len(alpha_bars), buckets + 1).long()
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist()):
        t = torch.randint(lo, hi, (len(x0),), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        x_t = q_sample(x0, alpha_bars[t].float(), eps)
        losses.append(round(simple_loss(eps, model(x_t, t)).item(), 4))
    return losses


@torch.inference_mode()
def sample_images(model, n: int, num_steps: int, generator: torch.Generator, batch_size: int = 250) -> torch.Tensor:
    """n DDIM samples in [0, 1], (n, 1, 28, 28)."""
    alphas = noise_schedule()
    images = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        final = last_step(ddim_sample(model, (m, 1, 28, 28), alphas, num_steps, generator))
        images.append(to_image_range(final.x_t))
    return torch.cat(images)


@torch.inference_mode()
def evaluate(model, test_x: torch.Tensor, n: int, num_steps: int, generator: torch.Generator) -> dict:
    """FD of n DDIM samples vs the test set (evaluation-classifier features) and the classes they fall into."""
    samples = sample_images(model, n, num_steps, generator)
    classifier = classifier_if_trained()
    if classifier is None:
        return {}
    sample_features, predictions = classifier_outputs(classifier, samples)
    test_features, _ = classifier_outputs(classifier, test_x)
    shares = class_histogram(predictions)
    return {"sampler_for_metrics": f"DDIM, {num_steps} steps, eta 0", "samples_for_metrics": n,
            "fd_samples_vs_test": round(frechet_distance(sample_features, test_features), 3),
            "min_class_share_of_samples": min(shares.values()), "class_shares_of_samples": shares}


def main(cfg: TrainConfig) -> dict:
    generator, device, bf16 = start_recipe(cfg)
    train_x, _, test_x, _ = fashion_mnist(cfg.dry_run)
    alpha_bars = alpha_bar(noise_schedule()).float()
    model = DiffusionUNet(UNetConfig(channels=cfg.channels, blocks_per_level=cfg.blocks_per_level)).to(device).train()
    average = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = 2 if cfg.dry_run else cfg.steps
    batches = endless_minibatches(len(train_x), cfg.batch_size, generator)
    curves = IntervalMeans(("loss",))
    clock = Stopwatch()
    bar = progress(steps, "ddpm")
    for step in range(steps):
        x0 = to_model_range(random_flip_and_shift(train_x[next(batches)], generator, max_shift=0)).to(device)
        t = torch.randint(0, NUM_TRAIN_STEPS, (len(x0),), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        x_t = q_sample(x0, alpha_bars[t], eps)
        with runtime.autocast(bf16, device):
            loss = simple_loss(eps, model(x_t, t.to(device)))
        optimizer_step(optimizer, loss, learning_rate(step, cfg))
        ema_update(average, model, cfg.ema_decay)
        curves.add(loss.item(), last=step + 1 == steps)
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    training_seconds = clock.seconds

    model = average.cpu().eval()
    n = 16 if cfg.dry_run else cfg.eval_samples
    metrics = {"training_seconds": training_seconds,
               "seconds_per_training_step": round(training_seconds / steps, 3),
               "schedule": f"linear alpha_t (the paper's beta_t) from {ALPHA_START} to {ALPHA_END}, T = {NUM_TRAIN_STEPS}",
               "test_loss_by_t_decile": loss_by_timestep(model, to_model_range(test_x[:1000]), alpha_bars, generator)}
    metrics |= evaluate(model, test_x, n, 2 if cfg.dry_run else cfg.eval_ddim_steps, generator)
    card = make_card(
        "ddpm", cfg, defaults=TrainConfig(),
        data="Fashion-MNIST train (60,000 images, no labels), mirrored at random; metrics vs the 10,000 test images"
        if not cfg.dry_run else "dry run: 64 bundled-sample images",
        steps=steps, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves.curves,
    )
    folder = save_model(model, "ddpm", card, output_root(cfg.dry_run))
    print(f"ddpm: {metrics}; wrote {folder}")
    return card
