"""Variational autoencoder (Kingma & Welling 2014), in the lecture's terms.

The encoder gives q(z|x) = N(mu, diag(sigma^2)) as (mu, log sigma^2); the decoder gives p(x|z), Bernoulli per
pixel. Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) <= log p(x),

i.e. minimises a reconstruction term plus a KL term that pulls every code towards the prior N(0, I). The two terms
compete: the lecture's point, and what the cards' training curves show.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.blocks import mlp
from core.checkpoints import load_model
from core.runtime import MODELS

IMAGE_SIZE = 28
PIXELS = IMAGE_SIZE * IMAGE_SIZE
LATENT_SIZES = (2, 5, 20)  # the lecture's comparison


@dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = 20  # size of z
    hidden: tuple[int, ...] = (1024, 512)  # encoder widths; the decoder mirrors them. (512, 256) left the 20-D
    # model's samples short of sandals (2.0%); these widths give 3.4-4.1% over three seeds.


class VAE(nn.Module, PyTorchModelHubMixin):
    """MLP encoder 784 -> 1024 -> 512 -> (mu, log sigma^2); MLP decoder z -> 512 -> 1024 -> 784 Bernoulli logits."""

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        self.config = config
        widths = (PIXELS, *config.hidden)
        self.encoder = nn.Sequential(mlp(widths), nn.ReLU(inplace=True))
        self.to_mu = nn.Linear(widths[-1], config.latent_dim)
        self.to_logvar = nn.Linear(widths[-1], config.latent_dim)
        self.decoder = mlp((config.latent_dim, *widths[::-1]))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) in [0, 1] -> mu, log sigma^2, each (B, latent_dim)."""
        h = self.encoder(x.flatten(1))
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> Bernoulli logits (B, 1, 28, 28)."""
        return self.decoder(z).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z -> the decoder's mean image, sigmoid of the logits, in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
        return self.decode_logits(z), mu, logvar


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(log sigma^2 / 2): a sample of q(z|x) through which
    gradients reach mu and sigma."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2), in nats, per sample (B,)."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) under independent Bernoullis, summed over pixels, in nats, per sample (B,).

    Fashion-MNIST pixels are grey levels, not bits; as is customary they are used as Bernoulli means, so this is
    the binary cross-entropy and the ELBO is a bound in that sense."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


@dataclass(frozen=True)
class ELBOTerms:
    reconstruction: torch.Tensor  # (B,) -E_q[log p(x|z)], one-sample estimate
    kl: torch.Tensor  # (B,) KL(q(z|x) || N(0, I)), closed form

    @property
    def negative_elbo(self) -> torch.Tensor:
        return self.reconstruction + self.kl


def elbo_terms(model: VAE, x: torch.Tensor, generator: torch.Generator | None = None) -> ELBOTerms:
    logits, mu, logvar = model(x, generator)
    return ELBOTerms(reconstruction_nll(logits, x), kl_to_standard_normal(mu, logvar))


# --- latent operations the tab uses ---------------------------------------------------------------------------

def latent_arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a + (b - c): move a by the difference between b and c (the lecture's cat + (dog - pig))."""
    return a + (b - c)


def checkpoint_name(latent_dim: int) -> str:
    return f"vae_{latent_dim}"


def load(latent_dim: int) -> VAE:
    """The bundled VAE with this latent size, loaded once (raises CheckpointError naming the rebuild command)."""
    name = checkpoint_name(latent_dim)
    return MODELS.get(name, lambda: load_model(VAE, name))


@torch.inference_mode()
def encode_mean(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """The mean code mu of q(z|x): (B, 1, 28, 28) -> (B, D). Used wherever one code per image is wanted."""
    return model.encode(x)[0]


@torch.inference_mode()
def class_means(codes: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Mean code of each class: (N, D), (N,) -> (num_classes, D)."""
    return torch.stack([codes[labels == c].mean(dim=0) for c in range(num_classes)])


def nearest(z: torch.Tensor, codes: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k codes nearest to z (Euclidean), nearest first."""
    return (codes - z).norm(dim=1).argsort()[:k]


@dataclass(frozen=True)
class LatentWindow:
    """The square [-half_width, half_width]^2 of a 2-D latent space drawn as a size x size image."""

    half_width: float
    size: int

    def to_latent(self, col: float, row: float) -> torch.Tensor:
        """Pixel (column, row), row 0 at the top -> latent (z1, z2), z2 growing upwards."""
        scale = 2 * self.half_width / self.size
        return torch.tensor([(col + 0.5) * scale - self.half_width, self.half_width - (row + 0.5) * scale])

    def to_pixel(self, z: torch.Tensor) -> tuple[float, float]:
        scale = self.size / (2 * self.half_width)
        return (float(z[0]) + self.half_width) * scale, (self.half_width - float(z[1])) * scale

    def grid(self, n: int) -> torch.Tensor:
        """n x n latent points at the centres of an n x n tiling of the window, row-major from the top left."""
        centres = (torch.arange(n) + 0.5) / n * 2 * self.half_width - self.half_width
        z2, z1 = torch.meshgrid(centres.flip(0), centres, indexing="ij")
        return torch.stack([z1.flatten(), z2.flatten()], dim=1)
