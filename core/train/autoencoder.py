"""Recipes `pca`, `ae_linear`, `ae_deep`, `ae_conv`, `ae_denoising`: the lecture's autoencoders.

    python -m core.train pca            # closed form, seconds
    python -m core.train ae_linear      # 784 -> 32 -> 784, no activation
    python -m core.train ae_deep        # ReLU MLP, code of 32
    python -m core.train ae_conv        # Conv-ReLU-MaxPool / Conv-ReLU-Upsampling, code (8, 4, 4)
    python -m core.train ae_denoising   # conv AE on noisy inputs vs clean targets, code (32, 7, 7)

The autoencoders descend the lecture's squared error ||x − x̂||² (the denoising one between the clean image and the
reconstruction of a noisy copy); PCA is fitted in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.autoencoder import (
    NOISE_TYPES,
    PCA,
    Autoencoder,
    ConvAEConfig,
    ConvAutoencoder,
    DeepAEConfig,
    DeepAutoencoder,
    LinearAEConfig,
    LinearAutoencoder,
    PCAConfig,
    add_noise,
    compression_ratio,
    random_noise,
    subspace_similarity,
)
from core.metrics import mse, psnr
from core.train.common import fashion_mnist
from core.train.loop import Recipe, Run, TrainConfig, option

DATA_NOTE = "Fashion-MNIST train (60,000); metrics on the full test set (10,000)"
DENOISE_EVAL = {"gaussian": 0.5, "salt_and_pepper": 0.2, "masking": 0.5}  # the levels the app starts at
EPOCH = 60_000 // 128  # updates per pass over the training images at the default batch size
MODEL_CLASSES = {LinearAEConfig: LinearAutoencoder, DeepAEConfig: DeepAutoencoder, ConvAEConfig: ConvAutoencoder}


@dataclass(frozen=True)
class AETrainConfig(TrainConfig):
    model: LinearAEConfig | DeepAEConfig | ConvAEConfig = option(ConvAEConfig(), "the autoencoder's shape")
    steps: int = 20 * EPOCH
    batch_size: int = 128
    lr: float = 2e-3  # Adam
    final_lr_fraction: float = 0.0  # cosine decay to zero
    denoising: bool = option(False, "train on noisy inputs against clean targets")
    max_noise_gaussian: float = option(0.7, "denoising: Gaussian noise levels drawn uniformly up to this")
    max_noise_salt_and_pepper: float = option(0.4, "denoising: salt-and-pepper fractions drawn up to this")
    max_noise_masking: float = option(0.7, "denoising: masked fractions drawn up to this")


DEFAULTS = {
    # fp32 for the linear AE: the point of the model is how closely it reaches PCA's optimum.
    "ae_linear": AETrainConfig(model=LinearAEConfig(), steps=30 * EPOCH, precision="no"),
    "ae_deep": AETrainConfig(model=DeepAEConfig(), steps=30 * EPOCH),
    "ae_conv": AETrainConfig(),
    "ae_denoising": AETrainConfig(
        model=ConvAEConfig(channels=(32, 64), latent_channels=32, pool_latent=False), denoising=True
    ),
}


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


class AutoencoderRecipe(Recipe):
    data_note = DATA_NOTE

    def setup(self, run: Run) -> None:
        self.train_x, _, self.test_x, _ = fashion_mnist(run.dry_run)
        self.autoencoder = MODEL_CLASSES[type(self.cfg.model)](self.cfg.model)
        self.models = {"autoencoder": self.autoencoder}
        run.add_optimizer("adam", torch.optim.Adam(self.autoencoder.parameters(), lr=self.cfg.lr))
        self.noise_levels = {kind: getattr(self.cfg, f"max_noise_{kind}") for kind in NOISE_TYPES}
        self.order = run.minibatches(len(self.train_x), self.cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        target = self.train_x[next(self.order)]
        inputs = random_noise(target, run.rng, self.noise_levels) if self.cfg.denoising else target
        with run.autocast():
            reconstruction = self.autoencoder(inputs.to(run.device))
        loss = ((reconstruction.float() - target.to(run.device)) ** 2).mean()  # the lecture's l2 loss
        run.update("adam", loss)
        return (loss.item(),)

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = self.autoencoder.cpu().eval()
        metrics = evaluate(model, self.test_x)
        if isinstance(model, LinearAutoencoder):
            pca = PCA(PCAConfig(components=model.config.latent_dim)).fit(self.train_x)
            metrics["pca_test_mse"] = evaluate(pca, self.test_x)["test_mse"]
            cosines = subspace_similarity(model.decoder.weight.detach(), pca.components)
            metrics["pca_subspace_mean_cos2"] = round((cosines**2).mean().item(), 4)
        if self.cfg.denoising:
            metrics |= evaluate_denoising(model, self.test_x, self.cfg.seed)
        return model, metrics


@dataclass(frozen=True)
class PCATrainConfig(TrainConfig):
    model: PCAConfig = option(PCAConfig(), "the number of principal components kept")
    steps: int = 0  # fitted in closed form: no gradient steps


class PCARecipe(Recipe):
    data_note = DATA_NOTE

    def setup(self, run: Run) -> None:
        self.train_x, _, self.test_x, _ = fashion_mnist(run.dry_run)

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = PCA(self.cfg.model).fit(self.train_x).eval()
        metrics = evaluate(model, self.test_x)
        explained = model.explained_variance.sum() / self.train_x.flatten(1).var(dim=0).sum()
        metrics["explained_variance_ratio"] = round(explained.item(), 4)
        return model, metrics
