"""Recipes `pca`, `ae_linear`, `ae_deep`, `ae_conv`, `ae_denoising`: the autoencoder tab's models.

    python -m core.train pca            # closed form, seconds
    python -m core.train ae_linear      # 784 -> 32 -> 784, no activation
    python -m core.train ae_deep        # ReLU MLP, code of 32
    python -m core.train ae_conv        # Conv-ReLU-MaxPool / Conv-ReLU-Upsampling, code (8, 4, 4)
    python -m core.train ae_denoising   # conv AE on noisy inputs vs clean targets, code (32, 7, 7)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core import runtime
from core.autoencoder import (
    NOISE_TYPES, PCA, Autoencoder, ConvAEConfig, ConvAutoencoder, DeepAutoencoder, LinearAutoencoder, PCAConfig,
    add_noise, compression_ratio, random_noise, subspace_similarity,
)
from core.checkpoints import save_model
from core.metrics import mse, psnr
from core.train.common import Stopwatch, make_card, minibatches, output_root, progress, start_recipe, fashion_mnist

DATA_NOTE = "Fashion-MNIST train (60,000); metrics on the full test set (10,000)"
DENOISE_EVAL = {"gaussian": 0.5, "salt_and_pepper": 0.2, "masking": 0.5}  # the tab's default levels


@dataclass(frozen=True)
class TrainConfig:
    model: str = "conv"  # linear | deep | conv | denoising
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3  # Adam, cosine decay to zero
    max_noise_gaussian: float = 0.7  # denoising only: levels drawn uniformly up to these
    max_noise_salt_and_pepper: float = 0.4
    max_noise_masking: float = 0.7
    seed: int = 0
    bf16: str = "auto"  # bf16 autocast: 'on', 'off' or 'auto' (measured on this CPU)
    dry_run: bool = False  # two steps on the bundled sample; writes to a temporary folder


DEFAULTS = {
    # fp32 for the linear AE: the point of the model is how closely it reaches PCA's optimum.
    "linear": TrainConfig(model="linear", epochs=30, bf16="off"),
    "deep": TrainConfig(model="deep", epochs=30),
    "conv": TrainConfig(model="conv", epochs=20),
    "denoising": TrainConfig(model="denoising", epochs=20),
}


def build_model(kind: str) -> Autoencoder:
    if kind == "linear":
        return LinearAutoencoder()
    if kind == "deep":
        return DeepAutoencoder()
    if kind == "conv":
        return ConvAutoencoder(ConvAEConfig())
    if kind == "denoising":
        return ConvAutoencoder(ConvAEConfig(channels=(32, 64), latent_channels=32, pool_latent=False))
    raise ValueError(f"unknown autoencoder kind {kind!r}")


@torch.inference_mode()
def evaluate(model: Autoencoder, x: torch.Tensor) -> dict[str, float]:
    reconstruction = torch.cat([model.reconstruct(chunk) for chunk in x.split(1000)])
    return {
        "test_mse": round(mse(reconstruction, x).mean().item(), 6),
        "test_psnr_db": round(psnr(reconstruction, x).mean().item(), 3),
        "latent_numbers": model.latent_numel(),
        "compression_ratio": round(compression_ratio(model.latent_numel()), 3),
    }


@torch.inference_mode()
def evaluate_denoising(model: Autoencoder, x: torch.Tensor, seed: int) -> dict[str, float]:
    metrics = {}
    for kind, level in DENOISE_EVAL.items():
        noisy = add_noise(x, kind, level, torch.Generator().manual_seed(seed))
        denoised = torch.cat([model.reconstruct(chunk) for chunk in noisy.split(1000)])
        metrics[f"{kind}_{level}_noisy_psnr_db"] = round(psnr(noisy, x).mean().item(), 3)
        metrics[f"{kind}_{level}_denoised_psnr_db"] = round(psnr(denoised, x).mean().item(), 3)
    return metrics


def main(cfg: TrainConfig) -> dict:
    recipe = f"ae_{cfg.model}"
    generator, device, bf16 = start_recipe(cfg)
    train_x, _, test_x, _ = fashion_mnist(cfg.dry_run)
    model = build_model(cfg.model).to(device)
    noise_levels = {kind: getattr(cfg, f"max_noise_{kind}") for kind in NOISE_TYPES}
    steps_per_epoch = 2 if cfg.dry_run else len(train_x) // cfg.batch_size
    epochs = 1 if cfg.dry_run else cfg.epochs
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    clock, step, epoch_losses = Stopwatch(), 0, []
    bar = progress(epochs * steps_per_epoch, recipe)
    for _ in range(epochs):
        model.train()
        running = 0.0
        for index in minibatches(len(train_x), cfg.batch_size, generator, steps_per_epoch):
            target = train_x[index]
            inputs = random_noise(target, generator, noise_levels) if cfg.model == "denoising" else target
            with runtime.autocast(bf16, device):
                reconstruction = model(inputs.to(device))
            loss = ((reconstruction.float() - target.to(device)) ** 2).mean()  # the lecture's l2 loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            running += loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.5f}", refresh=False)
        epoch_losses.append(round(running / steps_per_epoch, 6))
    bar.close()

    model = model.cpu().eval()
    metrics = evaluate(model, test_x)
    if cfg.model == "linear":
        pca = PCA(PCAConfig(components=model.config.latent_dim)).fit(train_x)
        metrics["pca_test_mse"] = evaluate(pca, test_x)["test_mse"]
        cosines = subspace_similarity(model.decoder.weight.detach(), pca.components)
        metrics["pca_subspace_mean_cos2"] = round((cosines**2).mean().item(), 4)
    if cfg.model == "denoising":
        metrics.update(evaluate_denoising(model, test_x, cfg.seed))
    card = make_card(
        recipe, cfg, defaults=DEFAULTS[cfg.model],
        data=DATA_NOTE if not cfg.dry_run else "dry run: 64 bundled-sample images",
        steps=step, clock=clock, device=device, bf16=bf16, metrics=metrics,
        curves={"train_mse_per_epoch": epoch_losses},
    )
    folder = save_model(model, recipe, card, output_root(cfg.dry_run))
    print(f"{recipe}: {metrics}; wrote {folder}")
    return card


@dataclass(frozen=True)
class PCATrainConfig:
    components: int = 32
    seed: int = 0  # unused by the closed form; recorded for uniformity
    dry_run: bool = False


def main_pca(cfg: PCATrainConfig) -> dict:
    clock = Stopwatch()
    train_x, _, test_x, _ = fashion_mnist(cfg.dry_run)
    model = PCA(PCAConfig(components=cfg.components)).fit(train_x).eval()
    metrics = evaluate(model, test_x)
    metrics["explained_variance_ratio"] = round(
        (model.explained_variance.sum() / train_x.flatten(1).var(dim=0).sum()).item(), 4)
    card = make_card(
        "pca", cfg, defaults=PCATrainConfig(),
        data=DATA_NOTE if not cfg.dry_run else "dry run: 64 bundled-sample images",
        steps=1, clock=clock, device=torch.device("cpu"), bf16=False, metrics=metrics,
    )
    folder = save_model(model, "pca", card, output_root(cfg.dry_run))
    print(f"pca: {metrics}; wrote {folder}")
    return card
