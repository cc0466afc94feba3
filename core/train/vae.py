"""Recipes `vae_2`, `vae_5`, `vae_20`: VAEs with the lecture's three latent sizes.

    python -m core.train vae_20     # about 12 minutes on 2 CPU cores

Each step descends the β-weighted negative ELBO, reconstruction + β · KL per image in nats, with β rising linearly
from 0 to 1 over the first `kl_warmup_epochs` (the ELBO itself afterwards). The card's curves give both terms on the
test set after every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from core.latent import sample_prior
from core.train.common import fashion_mnist
from core.train.evaluation import sample_quality
from core.train.loop import Recipe, Run, TrainConfig, option
from core.vae import (
    LATENT_SIZES,
    VAE,
    VAEConfig,
    beta_elbo_loss,
    checkpoint_name,
    elbo_terms,
    kl_warmup_beta,
    save_map_codes,
)

SAMPLES_FOR_METRICS = 1000
TRAIN_IMAGES = 60_000


@dataclass(frozen=True)
class VAETrainConfig(TrainConfig):
    model: VAEConfig = option(VAEConfig(), "encoder and decoder widths, latent size (2, 5 or 20 in the lecture)")
    steps: int = 60 * (TRAIN_IMAGES // 128)  # 60 epochs
    batch_size: int = 128
    lr: float = 1e-3  # Adam
    final_lr_fraction: float = 1.0  # constant
    kl_warmup_epochs: float = option(10.0, "β of the KL term rises linearly 0 → 1 over these epochs (0: β = 1)")
    precision: str = "no"  # MLPs this small gain nothing from bf16 here; fp32 keeps the nats exact


DEFAULTS = {checkpoint_name(d): VAETrainConfig(model=VAEConfig(latent_dim=d)) for d in LATENT_SIZES}


@torch.inference_mode()
def evaluate(model: VAE, x: torch.Tensor, rng: torch.Generator) -> dict[str, float]:
    """Mean per-image terms of the negative ELBO on x, in nats (one z sample per image), and the MSE of
    reconstructions decoded from the mean code."""
    reconstruction, kl, squared_error = 0.0, 0.0, 0.0
    for chunk in x.split(1000):
        terms = elbo_terms(model, chunk, rng)
        reconstruction += terms.reconstruction.sum().item()
        kl += terms.kl.sum().item()
        squared_error += ((model.decode(model.encode(chunk)[0]) - chunk) ** 2).flatten(1).mean(1).sum().item()
    n = len(x)
    return {
        "reconstruction_nats": round(reconstruction / n, 3),
        "kl_nats": round(kl / n, 3),
        "negative_elbo_nats": round((reconstruction + kl) / n, 3),
        "mse": round(squared_error / n, 6),
    }


@torch.inference_mode()
def active_dimensions(model: VAE, x: torch.Tensor) -> int:
    """Latent dimensions the model uses: those whose mean code mu_j varies over the data with variance > 0.01
    (Burda et al. 2016's "active units"); the others sit at the prior, and the KL term keeps them there."""
    return int((model.encode(x)[0].var(dim=0) > 0.01).sum())


class VAERecipe(Recipe):
    data_note = "Fashion-MNIST train (60,000); metrics on the full test set (10,000)"
    curve_names = ("train_reconstruction_nats", "train_kl_nats")
    storage_dtype = torch.float16  # the wider model is 10.6 MB in float32

    @property
    def checkpoint_name(self) -> str:
        return checkpoint_name(self.cfg.model.latent_dim)

    def setup(self, run: Run) -> None:
        self.train_x, _, self.test_x, self.test_y = fashion_mnist(run.dry_run)
        self.vae = VAE(self.cfg.model)
        self.models = {"vae": self.vae}
        run.add_optimizer("adam", torch.optim.Adam(self.vae.parameters(), lr=self.cfg.lr))
        self.steps_per_epoch = max(1, len(self.train_x) // self.cfg.batch_size)
        self.curve_every = self.held_out_every = self.steps_per_epoch
        self.order = run.minibatches(len(self.train_x), self.cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        with run.autocast():
            terms = elbo_terms(self.vae, self.train_x[next(self.order)].to(run.device), run.rng)
        beta = kl_warmup_beta(run.step / self.steps_per_epoch, self.cfg.kl_warmup_epochs)
        run.update("adam", beta_elbo_loss(terms, beta))
        return terms.reconstruction.mean().item(), terms.kl.mean().item()

    def held_out(self, run: Run) -> dict[str, float]:
        self.vae.eval()
        test = evaluate(self.vae, self.test_x.to(run.device), run.rng)
        return {"test_reconstruction_nats": test["reconstruction_nats"], "test_kl_nats": test["kl_nats"]}

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = self.vae.cpu().eval().half().float()  # stored as float16: measure the rounded weights that ship
        metrics = {f"test_{k}": v for k, v in evaluate(model, self.test_x, run.rng).items()}
        metrics["decoder_noise_level_s"] = round(model.noise_level, 5)
        metrics["active_latent_dimensions"] = active_dimensions(model, self.test_x)
        with torch.inference_mode():
            samples = model.decode(sample_prior(run.sized(SAMPLES_FOR_METRICS, 64), model.config.latent_dim, run.rng))
        metrics |= sample_quality(samples, self.test_x, fd_key="fd_prior_samples_vs_test")
        metrics["weights_stored_as"] = "float16"
        if model.config.latent_dim == 2:
            metrics["map_codes_of_test_images"] = len(self.test_x)  # written beside the weights, see after_save
        self.shipped = model
        return model, metrics

    def after_save(self, folder: Path) -> None:
        if self.shipped.config.latent_dim == 2:  # the latent map: every test image's mean code
            save_map_codes(self.shipped, self.test_x, self.test_y, folder)
