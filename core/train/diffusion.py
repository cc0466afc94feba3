"""Recipe `ddpm`: the pixel-space ε-predictor on Fashion-MNIST with the DDPM paper's simplified loss.

    python -m core.train ddpm                          # about 1 s a step on 2 CPU cores (bf16 autocast)
    python -m core.train ddpm --stop-after-minutes 100 # train for a while, save, evaluate; run again to go on
    python -m core.train ddpm --init-from ddpm         # start from the shipped weights instead of from scratch
    python -m core.train ddpm --evaluate-only          # re-measure the shipped checkpoint into its card

The skeleton saves the training state (weights, EMA, optimizer, RNG, curves) to runs/ddpm/state.safetensors every
`save_every` steps and resumes from it when started again with the same settings, so training can span sessions.

Each step: x_0 from the data (in [−1, 1], mirrored half the time), t uniform in 1..T, ε ~ N(0, I),
x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, and a gradient step on ‖ε − ε_θ(x_t, t)‖². The shipped weights are an exponential
moving average of the trained ones (as in the paper). The card measures 1,000 DDIM-50 samples against the test set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from core.checkpoints import load_model, read_card
from core.diffusion import (
    ALPHA_END,
    ALPHA_START,
    NUM_TRAIN_STEPS,
    alpha_bar,
    noise_schedule,
    q_sample,
    simple_loss,
    to_image_range,
    to_model_range,
)
from core.metrics import (
    class_histogram,
    classifier_if_trained,
    classifier_outputs,
    frechet_distance,
    roughness_limit,
    speckled_share,
)
from core.samplers import PIXEL_RANGE, last_step, sample
from core.train.augment import random_flip_and_shift
from core.train.common import Stopwatch, fashion_mnist
from core.train.evaluation import DRY_RUN_SAMPLER_TABLE, remeasure_card
from core.train.loop import Recipe, Run, TrainConfig, option
from core.unet import DiffusionUNet, UNetConfig


@dataclass(frozen=True)
class DDPMTrainConfig(TrainConfig):
    model: UNetConfig = option(UNetConfig(), "the ε-predicting U-Net's widths and blocks")
    steps: int = 4000
    batch_size: int = 128
    lr: float = 5e-4  # Adam
    warmup_steps: int = 200
    save_every: int = 250
    ema_decay: float = option(0.999, "the shipped weights are this moving average of the trained ones")
    eval_samples: int = option(1000, "samples measured for the card")
    eval_ddim_steps: int = option(50, "DDIM steps of the card's main FD")
    init_from: str = option("", "a checkpoint folder (e.g. ddpm) whose weights start the model and its EMA")
    evaluate_only: bool = option(False, "no training: re-measure checkpoints/ddpm and rewrite its card's metrics")


# The card's sampler table (the DDIM paper's Table 1, measured here): (sampler, steps) pairs, each on eval_samples.
SAMPLER_TABLE = (("ddim", 10), ("ddim", 20), ("ddim", 50), ("dpm++", 10), ("dpm++", 20))


@torch.inference_mode()
def loss_by_timestep(
    model, x0: torch.Tensor, alpha_bars: torch.Tensor, generator: torch.Generator, buckets: int = 10
) -> list[float]:
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
def sample_images(
    model, n: int, num_steps: int, generator: torch.Generator, batch_size: int = 250, sampler: str = "ddim"
) -> torch.Tensor:
    """n samples in [0, 1], (n, 1, 28, 28), x̂_0 clamped to the data's range at each step."""
    images = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        final = last_step(sample(model, (m, 1, 28, 28), sampler, num_steps, generator, x0_range=PIXEL_RANGE))
        images.append(to_image_range(final.x_t))
    return torch.cat(images)


@torch.inference_mode()
def evaluate(
    model,
    test_x: torch.Tensor,
    n: int,
    num_steps: int,
    generator: torch.Generator,
    table: tuple[tuple[str, int], ...] = SAMPLER_TABLE,
) -> dict:
    """FD of n DDIM samples vs the test set (evaluation-classifier features), the classes they fall into and the
    share of speckled samples; then the same FD for each (sampler, steps) of `table`, each from the same seed."""
    classifier = classifier_if_trained()
    if classifier is None:
        return {}
    test_features, _ = classifier_outputs(classifier, test_x)
    rough_limit = roughness_limit(test_x)
    seed = int(torch.randint(0, 2**31, (1,), generator=generator))

    def measure(sampler: str, steps: int) -> dict:
        clock = Stopwatch()
        samples = sample_images(model, n, steps, torch.Generator().manual_seed(seed), sampler=sampler)
        seconds = clock.seconds
        features, predictions = classifier_outputs(classifier, samples)
        shares = class_histogram(predictions)
        return {
            "sampler": sampler,
            "steps": steps,
            "fd": round(frechet_distance(features, test_features), 3),
            "min_class_share": min(shares.values()),
            "speckled_share": speckled_share(samples, rough_limit),
            "ms_per_sample": round(1000 * seconds / n, 2),
            "shares": shares,
        }

    main_row = measure("ddim", num_steps)
    rows = [main_row] + [measure(*key) for key in table if key != ("ddim", num_steps)]
    for row in rows:
        row.pop("shares") if row is not main_row else None
    shares = main_row.pop("shares")
    return {
        "sampler_for_metrics": f"DDIM, {num_steps} steps, eta 0, x̂_0 clamped to [-1, 1]",
        "samples_for_metrics": n,
        "fd_samples_vs_test": main_row["fd"],
        "min_class_share_of_samples": min(shares.values()),
        "class_shares_of_samples": shares,
        "speckled_share": main_row["speckled_share"],
        "speckle_rule": f"roughness above the 99th percentile of the test images' ({rough_limit:.4f})",
        "sampler_table": sorted(rows, key=lambda row: (row["sampler"], row["steps"])),
    }


def _history(name: str) -> dict:
    """What the weights a run starts from had behind them (from their card), so the new card can add it up."""
    card = read_card(name)
    metrics = card["metrics"]
    return {
        "checkpoint": name,
        "command": card["command"],
        "code_commit": card["code_commit"],
        "created": card["created"],
        "fd_samples_vs_test": metrics.get("fd_samples_vs_test"),
        "steps": metrics.get("total_training_steps", card["steps"]),
        "training_seconds": metrics.get("total_training_seconds", metrics["training_seconds"]),
    }


def evaluate_shipped(cfg: DDPMTrainConfig) -> dict:
    """--evaluate-only: measure checkpoints/ddpm again (today's evaluation code) and rewrite its card's metrics."""

    def measure() -> dict:
        _, _, test_x, _ = fashion_mnist(cfg.dry_run)
        model = load_model(DiffusionUNet, "ddpm").cpu()
        n, steps = (16, 2) if cfg.dry_run else (cfg.eval_samples, cfg.eval_ddim_steps)
        table = DRY_RUN_SAMPLER_TABLE if cfg.dry_run else SAMPLER_TABLE
        return evaluate(model, test_x, n, steps, torch.Generator().manual_seed(cfg.seed), table)

    return remeasure_card("ddpm", measure, cfg.dry_run)


class DDPMRecipe(Recipe):
    data_note = "Fashion-MNIST train (60,000 images, no labels), mirrored at random; metrics vs the 10,000 test images"

    def evaluate_shipped(self) -> dict:
        return evaluate_shipped(self.cfg)

    def setup(self, run: Run) -> None:
        cfg = self.cfg
        self.train_x, _, self.test_x, _ = fashion_mnist(run.dry_run)
        self.alpha_bars = alpha_bar(noise_schedule()).float()
        self.unet = DiffusionUNet(cfg.model)
        if cfg.init_from:
            self.unet.load_state_dict(load_model(DiffusionUNet, cfg.init_from).state_dict())
            self.extra["history"] = _history(cfg.init_from)
        self.average = copy.deepcopy(self.unet).requires_grad_(False)
        self.models = {"model": self.unet, "average": self.average}
        self.moving_averages = [(self.average, self.unet, cfg.ema_decay)]
        run.add_optimizer("adam", torch.optim.Adam(self.unet.parameters(), lr=cfg.lr))
        self.order = run.minibatches(len(self.train_x), cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        """x_0 from the data, t ~ U{1..T}, ε ~ N(0, I), x_t by the closed form, a step on ||ε − ε_θ(x_t, t)||²."""
        x0 = to_model_range(random_flip_and_shift(self.train_x[next(self.order)], run.rng, max_shift=0))
        t = torch.randint(0, NUM_TRAIN_STEPS, (len(x0),), generator=run.rng)
        eps = torch.randn(x0.shape, generator=run.rng)
        x_t = q_sample(x0, self.alpha_bars[t], eps)
        with run.autocast():
            loss = simple_loss(eps.to(run.device), self.unet(x_t.to(run.device), t.to(run.device)))
        run.update("adam", loss)
        return (loss.item(),)

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        cfg, history = self.cfg, self.extra.get("history", {})
        model = self.average.cpu().eval()
        metrics = {
            "planned_steps": run.steps,
            "total_training_steps": run.step + history.get("steps", 0),
            "total_training_seconds": round(run.training_seconds + history.get("training_seconds", 0.0), 1),
            "continued_from": history or None,
            "schedule": f"linear alpha_t (the paper's beta_t) from {ALPHA_START} to {ALPHA_END}, T = {NUM_TRAIN_STEPS}",
            "test_loss_by_t_decile": loss_by_timestep(
                model, to_model_range(self.test_x[:1000]), self.alpha_bars, run.rng
            ),
        }
        n, steps = run.sized(cfg.eval_samples, 16), run.sized(cfg.eval_ddim_steps, 2)
        metrics |= evaluate(model, self.test_x, n, steps, run.rng, run.sized(SAMPLER_TABLE, DRY_RUN_SAMPLER_TABLE))
        return model, metrics
