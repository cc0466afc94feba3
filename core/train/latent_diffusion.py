"""Recipes `ldm_autoencoder` and `ldm`: latent diffusion in two stages, as Stable Diffusion is trained.

    python -m core.train ldm_autoencoder   # stage 1: the KL autoencoder (about 20 minutes on 2 CPU cores)
    python -m core.train ldm               # stage 2: the text-conditioned U-Net on its latents (needs clip too)

Stage 1 learns E and D with an L1 reconstruction loss plus a small KL(q(z|x) ‖ N(0, I)) that keeps the latent
space smooth, then measures the latents' spread so that s · E(x) has unit variance. Stage 2 freezes E and the CLIP
text encoder and trains ε_θ(z_t, t, c) with the simplified loss on captions drawn like the CLIP recipe's ("a picture
of a dark sneaker"), 10% of them replaced by "" for classifier-free guidance.
"""

from __future__ import annotations

import contextlib
import copy
import random
from dataclasses import dataclass

import torch

from core.captions import CLASS_PROMPT_NAMES, ZERO_SHOT_TEMPLATE, all_caption_words, fashion_caption
from core.checkpoints import CheckpointError
from core.clip import load_bundle
from core.diffusion import NUM_TRAIN_STEPS, alpha_bar, noise_schedule, q_sample, simple_loss
from core.latent_diffusion import (
    AUTOENCODER_CHECKPOINT,
    DEFAULT_GUIDANCE,
    DENOISER_CHECKPOINT,
    LATENT_RANGE_STDS,
    TEXT_DROPOUT,
    AutoencoderSize,
    DenoiserSize,
    LatentDiffusion,
    autoencoder_config,
    decode,
    denoiser_config,
    encode_text,
    latent_range,
    load,
    load_autoencoder,
    pad_images,
    unpad_images,
)
from core.metrics import (
    classifier_outputs,
    load_classifier,
    mse,
    psnr,
    unreadable_share,
)
from core.samplers import last_step
from core.train.common import fashion_mnist
from core.train.evaluation import DRY_RUN_SAMPLER_TABLE, remeasure_card, sample_quality
from core.train.loop import Recipe, Run, TrainConfig, option


@dataclass(frozen=True)
class AutoencoderTrainConfig(TrainConfig):
    model: AutoencoderSize = option(AutoencoderSize(), "the autoencoder's widths per level and blocks")
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3  # Adam
    warmup_steps: int = 100
    kl_weight: float = option(1e-4, "per image: sum of |x − D(z)| over pixels + kl_weight · KL (small, as in SD)")


@torch.inference_mode()
def posterior_moments(autoencoder, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's Gaussian q(z|x) for each image: means and standard deviations, (N, 4, 8, 8) each, unscaled."""
    means, stds = [], []
    for chunk in images.split(batch_size):
        posterior = autoencoder.encode(pad_images(chunk)).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
    return torch.cat(means), torch.cat(stds)


class AutoencoderRecipe(Recipe):
    """Stage 1: E and D with an L1 reconstruction loss plus a small KL to N(0, I); then the scale s."""

    data_note = "Fashion-MNIST train (60,000 images, padded to 32 px); metrics on the 10,000 test images"
    curve_names = ("reconstruction_l1", "kl")

    def setup(self, run: Run) -> None:
        from diffusers import AutoencoderKL

        self.train_x, _, self.test_x, _ = fashion_mnist(run.dry_run)
        self.autoencoder = AutoencoderKL(**autoencoder_config(self.cfg.model))
        self.models = {"autoencoder": self.autoencoder}
        run.add_optimizer("adam", torch.optim.Adam(self.autoencoder.parameters(), lr=self.cfg.lr))
        self.order = run.minibatches(len(self.train_x), self.cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        x = pad_images(self.train_x[next(self.order)]).to(run.device)
        with run.autocast():
            posterior = self.autoencoder.encode(x).latent_dist
            reconstruction = self.autoencoder.decode(posterior.sample(run.rng)).sample.float()
        l1 = (reconstruction - x).abs().flatten(1).sum(1).mean()
        kl = posterior.kl().float().mean()
        run.update("adam", l1 + self.cfg.kl_weight * kl)
        return l1.item(), kl.item()

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        autoencoder, test_x = self.autoencoder.cpu().eval(), self.test_x
        means, stds = posterior_moments(autoencoder, self.train_x[:10_000])  # stage 2 trains on z = μ + σ·ε,
        draws = means + stds * torch.randn(means.shape, generator=run.rng)  # so scale those to unit variance
        scaling = round(1.0 / draws.std().item(), 5)
        autoencoder.register_to_config(scaling_factor=scaling)
        with torch.inference_mode():
            test_means, test_stds = posterior_moments(autoencoder, test_x)
            reconstructions = torch.cat([unpad_images(autoencoder.decode(m).sample) for m in test_means.split(500)])
        metrics = {
            "latent_shape": list(test_means.shape[1:]),
            "scaling_factor": scaling,
            "test_mse": round(mse(reconstructions, test_x).mean().item(), 5),
            "test_psnr_db": round(psnr(reconstructions, test_x).mean().item(), 2),
            "mean_posterior_std": round(test_stds.mean().item(), 4),
        }
        try:
            classifier = load_classifier()
            _, on_originals = classifier_outputs(classifier, test_x)
            _, on_reconstructions = classifier_outputs(classifier, reconstructions)
            agreement = (on_originals == on_reconstructions).float().mean().item()
            metrics["classifier_agreement_on_reconstructions"] = round(agreement, 4)
        except CheckpointError:
            pass
        return autoencoder, metrics


@dataclass(frozen=True)
class DenoiserTrainConfig(TrainConfig):
    model: DenoiserSize = option(DenoiserSize(), "the U-Net's widths at 8x8 and 4x4, blocks and attention heads")
    steps: int = 3000
    batch_size: int = 128
    lr: float = 5e-4  # Adam
    warmup_steps: int = 200
    ema_decay: float = option(0.999, "the shipped U-Net is this moving average of the trained one")
    text_dropout: float = option(TEXT_DROPOUT, 'share of captions replaced by "" (classifier-free guidance)')
    eval_per_class: int = option(100, "samples per class measured for the card")
    eval_ddim_steps: int = option(50, "DDIM steps of the card's guidance rows")
    eval_guidance: tuple[float, ...] = option((1.0, 2.0, 4.0, 7.0), "guidance scales w measured for the card")
    evaluate_only: bool = option(False, "no training: re-measure checkpoints/ldm and rewrite its card's metrics")


class CaptionTable:
    """Every caption the recipe can draw, encoded once by the frozen text encoder (rows share one padded length)."""

    def __init__(self, clip, captions: list[str]):
        self.row = {caption: i for i, caption in enumerate(captions)}
        with torch.inference_mode():
            context = encode_text(clip, captions)
        self.states, self.mask = context.states.clone(), context.mask.clone()

    def lookup(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.tensor([self.row[c] for c in captions])
        return self.states[rows], self.mask[rows]


# Samplers compared at the default guidance (each on eval_per_class samples per class): 20 steps must be enough.
SAMPLER_TABLE = (("ddim", 50), ("ddim", 20), ("dpm++", 20), ("dpm++", 10))


@torch.inference_mode()
def prompted_samples(
    model: LatentDiffusion,
    per_class: int,
    guidance: float,
    sampler: str,
    num_steps: int,
    generator: torch.Generator,
    bf16: bool = False,
    prompts: list[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """per_class images from "a photo of a {class}" (or prompts[class]) for each class, and the class each one
    asked for."""
    images, requested = [], []
    for c, name in enumerate(CLASS_PROMPT_NAMES):
        prompt = ZERO_SHOT_TEMPLATE.format(name) if prompts is None else prompts[c]
        final = last_step(model.sample(prompt, per_class, guidance, num_steps, generator, sampler=sampler, bf16=bf16))
        images.append(decode(model.autoencoder, final.x_t))
        requested.append(torch.full((per_class,), c))
    return torch.cat(images).clamp(0, 1), torch.cat(requested)


def prompt_metrics(classifier, images: torch.Tensor, requested: torch.Tensor, test_features: torch.Tensor) -> dict:
    """How often the evaluation classifier reads the requested class (overall and per class), the share of blobs
    (no class at even odds), the FD to the test set and the classes drawn."""
    quality = sample_quality(images, None, requested, test_features=test_features)
    return {"samples": len(images), **quality, "blob_share": unreadable_share(classifier, images)}


@torch.inference_mode()
def evaluate_denoiser(
    model: LatentDiffusion,
    test_x: torch.Tensor,
    per_class: int,
    num_steps: int,
    guidances: tuple[float, ...],
    generator: torch.Generator,
    bf16: bool = False,
    table: tuple[tuple[str, int], ...] = SAMPLER_TABLE,
) -> dict:
    """For each guidance w (DDIM, num_steps): prompt "a photo of a {class}" per_class times per class (a quarter of
    that for w other than the default) and measure prompt_metrics; then, at the default w, each (sampler, steps)
    of `table` on per_class images per class."""
    classifier = load_classifier()
    test_features, _ = classifier_outputs(classifier, test_x)  # once, for every set measured below
    by_guidance = {}
    for w in guidances:
        n = per_class if w == DEFAULT_GUIDANCE else max(1, per_class // 4)  # the default w gets the full count
        samples = prompted_samples(model, n, w, "ddim", num_steps, generator, bf16)
        by_guidance[f"guidance_{w:g}"] = prompt_metrics(classifier, *samples, test_features)
    by_sampler = []
    for sampler, steps in table:
        samples = prompted_samples(model, per_class, DEFAULT_GUIDANCE, sampler, steps, generator, bf16)
        row = prompt_metrics(classifier, *samples, test_features)
        by_sampler.append(
            {
                "sampler": sampler,
                "steps": steps,
                **{
                    k: row[k]
                    for k in ("class_consistency", "class_consistency_by_class", "blob_share", "fd_samples_vs_test")
                },
            }
        )
    unconditional = prompt_metrics(
        classifier,
        *prompted_samples(model, per_class, 0.0, "dpm++", 20, generator, bf16, prompts=[""] * len(CLASS_PROMPT_NAMES)),
        test_features,
    )
    unconditional = {
        k: unconditional[k] for k in ("samples", "blob_share", "fd_samples_vs_test", "class_shares_of_samples")
    }
    return {
        "by_guidance": by_guidance,
        "by_sampler_at_default_guidance": by_sampler,
        "unconditional_dpm_solver_20": unconditional,
    }


def latent_channel_stats(means: torch.Tensor, scaling: float) -> dict:
    """Mean and standard deviation per channel of the training latents s · E(x) (the encoder's means): the range
    sampling holds ẑ_0 to (core.latent_diffusion.latent_range)."""
    z = means * scaling
    return {
        "latent_channel_mean": [round(v, 4) for v in z.mean(dim=(0, 2, 3)).tolist()],
        "latent_channel_std": [round(v, 4) for v in z.std(dim=(0, 2, 3)).tolist()],
    }


def _evaluate_shipped_denoiser(cfg: DenoiserTrainConfig) -> dict:
    """--evaluate-only: measure checkpoints/ldm again (today's evaluation code) and rewrite its card's metrics."""

    def measure() -> dict:
        train_x, _, test_x, _ = fashion_mnist(cfg.dry_run)
        autoencoder = load_autoencoder()
        stats = latent_channel_stats(posterior_moments(autoencoder, train_x)[0], autoencoder.config.scaling_factor)
        model = load()
        model.latent_range = latent_range(stats["latent_channel_mean"], stats["latent_channel_std"])
        per_class, steps = (2, 2) if cfg.dry_run else (cfg.eval_per_class, cfg.eval_ddim_steps)
        table = DRY_RUN_SAMPLER_TABLE if cfg.dry_run else SAMPLER_TABLE
        generator = torch.Generator().manual_seed(cfg.seed)
        quality = evaluate_denoiser(model, test_x, per_class, steps, cfg.eval_guidance, generator, table=table)
        return {**stats, **quality, "x0_range_for_metrics": f"latent mean ± {LATENT_RANGE_STDS:g} std per channel"}

    return remeasure_card(DENOISER_CHECKPOINT, measure, cfg.dry_run)


class DenoiserRecipe(Recipe):
    """Stage 2: ε_θ(z_t, t, c) on the frozen autoencoder's latents and the frozen CLIP text encoder's states."""

    data_note = "Fashion-MNIST train (60,000 images, with captions from their labels); metrics vs the test set"
    storage_dtype = torch.float16  # 16 MB in float32; `finish` measures the rounded weights that ship

    def evaluate_shipped(self) -> dict:
        return _evaluate_shipped_denoiser(self.cfg)

    def setup(self, run: Run) -> None:
        from diffusers import UNet2DConditionModel

        self.captions_rng = random.Random(run.process_seed)
        self.train_x, self.train_y, self.test_x, _ = fashion_mnist(run.dry_run)
        self.autoencoder, self.clip = load_autoencoder(), load_bundle()
        self.captions = CaptionTable(self.clip, sorted(set(all_caption_words())) + [""])
        self.means, self.stds = posterior_moments(self.autoencoder, self.train_x)
        self.alpha_bars = alpha_bar(noise_schedule()).float()
        self.unet = UNet2DConditionModel(
            **denoiser_config(self.clip.model.config.text_config.hidden_size, self.cfg.model)
        )
        self.average = copy.deepcopy(self.unet).requires_grad_(False)
        self.models = {"unet": self.unet, "average": self.average}
        self.moving_averages = [(self.average, self.unet, self.cfg.ema_decay)]
        run.add_optimizer("adam", torch.optim.Adam(self.unet.parameters(), lr=self.cfg.lr))
        self.order = run.minibatches(len(self.train_x), self.cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        index, rng = next(self.order), self.captions_rng
        scaling = self.autoencoder.config.scaling_factor
        z0 = (self.means[index] + self.stds[index] * torch.randn(self.means[index].shape, generator=run.rng)) * scaling
        texts = [
            "" if rng.random() < self.cfg.text_dropout else fashion_caption(int(y), x, rng)
            for x, y in zip(self.train_x[index], self.train_y[index])
        ]
        states, mask = self.captions.lookup(texts)
        t = torch.randint(0, NUM_TRAIN_STEPS, (len(z0),), generator=run.rng)
        eps = torch.randn(z0.shape, generator=run.rng)
        z_t = q_sample(z0, self.alpha_bars[t], eps)
        with run.autocast():
            eps_hat = self.unet(
                z_t.to(run.device),
                t.to(run.device),
                encoder_hidden_states=states.to(run.device),
                encoder_attention_mask=mask.to(run.device),
            ).sample
        loss = simple_loss(eps.to(run.device), eps_hat)
        run.update("adam", loss)
        return (loss.item(),)

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        cfg = self.cfg
        unet = self.average.cpu().eval().half().float()  # stored as float16: measure what ships
        stats = latent_channel_stats(self.means, self.autoencoder.config.scaling_factor)
        metrics = {
            "autoencoder": AUTOENCODER_CHECKPOINT,
            "text_encoder": "clip (its text transformer's token states)",
            "prompt_for_metrics": ZERO_SHOT_TEMPLATE,
            "sampler_for_metrics": f"DDIM, {cfg.eval_ddim_steps} steps",
            **stats,
            "x0_range_for_metrics": f"latent mean ± {LATENT_RANGE_STDS:g} std per channel",
        }
        model = LatentDiffusion(
            self.autoencoder, unet, self.clip, latent_range(stats["latent_channel_mean"], stats["latent_channel_std"])
        )
        per_class, steps = run.sized(cfg.eval_per_class, 2), run.sized(cfg.eval_ddim_steps, 2)
        table = run.sized(SAMPLER_TABLE, DRY_RUN_SAMPLER_TABLE)
        with contextlib.suppress(CheckpointError):
            metrics |= evaluate_denoiser(model, self.test_x, per_class, steps, cfg.eval_guidance, run.rng, table=table)
        return unet, metrics
