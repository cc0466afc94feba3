"""Recipes `gan` (unconditional DCGAN) and `cgan` (conditional: the class goes to G and D).

    python -m core.train gan      # about 20 minutes on 2 CPU cores
    python -m core.train cgan

The lecture's algorithm: for each iteration, k steps of D ascending log D(x) + log(1 - D(G(z))), then one step of G.
G descends the non-saturating -log D(G(z)) (see core/gan.py for why); the card says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.gan import (
    GAN,
    NUM_CLASSES,
    GANConfig,
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_non_saturating,
)
from core.latent import sample_prior
from core.train.common import fashion_mnist
from core.train.evaluation import sample_quality
from core.train.loop import Recipe, Run, TrainConfig, option

G_OBJECTIVES = {"non_saturating": generator_loss_non_saturating, "minimax": generator_loss_minimax}
SAMPLES_FOR_METRICS = 1000


@dataclass(frozen=True)
class AdversarialConfig(TrainConfig):
    """What the GAN, cGAN and StyleGAN recipes share: the lecture's loop and DCGAN's optimiser settings."""

    steps: int = 11_250  # generator updates: 12 epochs of 60,000 images in minibatches of 64 at k = 1
    batch_size: int = 64
    lr: float = 2e-4  # Adam, both players (DCGAN's setting)
    final_lr_fraction: float = 1.0  # a constant learning rate, as DCGAN
    beta1: float = option(0.5, "Adam's β₁ for both players (DCGAN's 0.5: 0.9 oscillates)")
    k: int = option(1, "discriminator steps per generator step (the lecture's inner loop)")
    generator_loss: str = option("non_saturating", "non_saturating, or minimax: the lecture's log(1 − D(G(z)))")


@dataclass(frozen=True)
class GANTrainConfig(AdversarialConfig):
    model: GANConfig = option(GANConfig(), "G and D (num_classes 10: the conditional GAN)")


DEFAULTS = {"gan": GANTrainConfig(), "cgan": GANTrainConfig(model=GANConfig(num_classes=NUM_CLASSES))}


class AdversarialRecipe(Recipe):
    """The lecture's training loop, shared by the GAN, cGAN and StyleGAN recipes: each update, k discriminator
    steps (G fixed), each on a fresh real minibatch and fresh noise, then one generator step (D fixed).
    Subclasses supply `generate(z, y)`, `d_logit(x, y)` (y None when unconditional) and the parameters of each."""

    curve_names = ("d_loss", "g_loss", "d_on_real", "d_on_fake")

    @property
    def latent_dim(self) -> int:
        return self.cfg.model.latent_dim

    @property
    def conditional(self) -> bool:
        return getattr(self.cfg.model, "num_classes", 0) > 0  # StyleGAN's config has no classes

    def setup_players(self, run: Run, g_params, d_params) -> None:
        cfg = self.cfg
        if cfg.k > 1 and cfg.gradient_accumulation_steps > 1:  # k D updates inside one accumulation window
            raise ValueError("k > 1 cannot be combined with gradient accumulation; use a larger batch instead.")
        if cfg.generator_loss not in G_OBJECTIVES:
            raise ValueError(f"generator_loss must be one of {sorted(G_OBJECTIVES)}, not {cfg.generator_loss!r}.")
        run.add_optimizer("d", torch.optim.Adam(d_params, lr=cfg.lr, betas=(cfg.beta1, 0.999)))
        run.add_optimizer("g", torch.optim.Adam(g_params, lr=cfg.lr, betas=(cfg.beta1, 0.999)))
        self.train_x, self.train_y, self.test_x, self.test_y = fashion_mnist(run.dry_run)
        self.order = run.minibatches(len(self.train_x), cfg.batch_size)

    def noise_and_classes(self, run: Run, m: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = sample_prior(m, self.latent_dim, run.rng).to(run.device)
        y = torch.randint(NUM_CLASSES, (m,), generator=run.rng).to(run.device) if self.conditional else None
        return z, y

    def train_step(self, run: Run) -> tuple[float, ...]:
        for _ in range(self.cfg.k):  # the lecture's inner loop: update D with G fixed
            index = next(self.order)
            x = self.train_x[index].to(run.device)
            y = self.train_y[index].to(run.device) if self.conditional else None
            z, y_fake = self.noise_and_classes(run, len(index))
            with run.autocast():
                real_logits = self.d_logit(x, y).float()
                fake_logits = self.d_logit(self.generate(z, y_fake).detach(), y_fake).float()
                d_loss = discriminator_loss(real_logits, fake_logits)
            run.update("d", d_loss)
        z, y_fake = self.noise_and_classes(run, self.cfg.batch_size)  # then update G with D fixed
        with run.autocast():
            g_loss = G_OBJECTIVES[self.cfg.generator_loss](self.d_logit(self.generate(z, y_fake), y_fake).float())
        run.update("g", g_loss)
        return (
            d_loss.item(),
            g_loss.item(),
            torch.sigmoid(real_logits).mean().item(),
            torch.sigmoid(fake_logits).mean().item(),
        )

    @torch.inference_mode()
    def measure(self, run: Run, generate, d_probability) -> dict:
        """FD of 1,000 samples to the test set, class shares (mode coverage), class consistency (conditional),
        and D's probabilities on real test images and on fakes (the lecture: D drifts to about 0.5)."""
        n = run.sized(SAMPLES_FOR_METRICS, 64)
        z = sample_prior(n, self.latent_dim, run.rng)
        requested = torch.arange(n) % NUM_CLASSES if self.conditional else None
        samples = generate(z, requested)
        real_y = self.test_y[:n] if self.conditional else None
        metrics = {
            "discriminator_on_real_mean": round(d_probability(self.test_x[:n], real_y).mean().item(), 4),
            "discriminator_on_fake_mean": round(d_probability(samples, requested).mean().item(), 4),
            "generator_loss": self.cfg.generator_loss,
        }
        return metrics | sample_quality(samples, self.test_x, requested)


class GANRecipe(AdversarialRecipe):
    data_note = "Fashion-MNIST train (60,000), labels used only by cgan; metrics: 1,000 samples vs the test set"

    @property
    def checkpoint_name(self) -> str:
        return "cgan" if self.cfg.model.num_classes else "gan"

    def setup(self, run: Run) -> None:
        self.gan = GAN(self.cfg.model)
        self.models = {"gan": self.gan}
        self.setup_players(run, self.gan.generator.parameters(), self.gan.discriminator.parameters())
        self.generate, self.d_logit = self.gan.generate, self.gan.d_logit

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = self.gan.cpu().eval()
        return model, self.measure(run, model.generate, model.d_probability)
