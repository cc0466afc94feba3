"""Variational autoencoder (Kingma & Welling 2014), in the lecture's terms.

The encoder gives q(z|x) = N(mu, diag(sigma^2)) as (mu, log sigma^2); the decoder gives p(x|z) = N(x_hat(z), s^2 I),
a Gaussian around the decoded image with one learned noise level s. Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) <= log p(x),

i.e. minimises a reconstruction term plus a KL term that pulls every code towards the prior N(0, I). The two terms
compete: the lecture's point, and what the cards' training curves show. With the Gaussian decoder the reconstruction
term is the lecture's "reconstruction error": the squared error ||x - x_hat||^2 / (2 s^2) plus a constant in s.

Why a Gaussian with a learned s and not per-pixel Bernoullis (the usual choice, and this module's first one): with
the Bernoulli's cross-entropy on grey levels the 20-D model left 7-9 of its 20 dimensions at the prior and its
samples fell short of sandals (README, "VAEs", has the runs). Learning s (Rybkin et al. 2021, "sigma-VAE") weighs the
squared error by 1 / (2 s^2) at the noise level the data supports; the 20-D model then uses all 20 dimensions
(s about 0.085) and its samples cover every class.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.blocks import mlp
from core.catalog import VAE_LATENT_SIZES, vae_checkpoint_name
from core.checkpoints import checkpoint_path, load_model
from core.datasets import IMAGE_SIZE
from core.runtime import MODELS, model_device, on_model_device

PIXELS = IMAGE_SIZE * IMAGE_SIZE
LATENT_SIZES = VAE_LATENT_SIZES  # the lecture's comparison (core/catalog.py: the page needs it before torch)
checkpoint_name = vae_checkpoint_name


@dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = 20  # size of z
    hidden: tuple[int, ...] = (1024, 512)  # encoder widths; the decoder mirrors them
    initial_noise_level: float = 0.3  # s of p(x|z) = N(x_hat, s^2 I) before training; s is learned


class VAE(nn.Module, PyTorchModelHubMixin):
    """MLP encoder 784 -> 1024 -> 512 -> (mu, log sigma^2); MLP decoder z -> 512 -> 1024 -> 784 -> sigmoid = x_hat;
    one learned log s, the noise level of p(x|z) = N(x_hat, s^2 I)."""

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        self.config = config
        widths = (PIXELS, *config.hidden)
        self.encoder = nn.Sequential(mlp(widths), nn.ReLU(inplace=True))
        self.to_mu = nn.Linear(widths[-1], config.latent_dim)
        self.to_logvar = nn.Linear(widths[-1], config.latent_dim)
        self.decoder = mlp((config.latent_dim, *widths[::-1]))
        self.log_noise_level = nn.Parameter(torch.tensor(math.log(config.initial_noise_level)))

    @on_model_device
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) in [0, 1] -> mu, log sigma^2, each (B, latent_dim)."""
        h = self.encoder(x.flatten(1))
        return self.to_mu(h), self.to_logvar(h)

    @on_model_device
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> x_hat (B, 1, 28, 28) in [0, 1], the mean of p(x|z). Samples show x_hat, not x_hat
        plus pixel noise of level s (as is customary: the noise is the part the model does not explain)."""
        return torch.sigmoid(self.decoder(z)).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)

    @property
    def noise_level(self) -> float:
        """s of p(x|z) = N(x_hat, s^2 I), learned with the rest."""
        return float(self.log_noise_level.detach().exp())

    @on_model_device
    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(log sigma^2 / 2): a sample of q(z|x) through which
    gradients reach mu and sigma."""
    drawn_on = mu.device if generator is None else generator.device  # a seeded CPU generator draws on the CPU
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=drawn_on).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2), in nats, per sample (B,)."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)


def reconstruction_nll(x_hat: torch.Tensor, x: torch.Tensor, log_noise_level: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) for p(x|z) = N(x_hat, s^2 I), in nats, per sample (B,):

        ||x - x_hat||^2 / (2 s^2) + D log s + D/2 log(2 pi),   D = 784 pixels.

    A density (on R^784, evaluated at images in [0, 1]^784), not a probability: with s about 0.1 a well-fitted
    pixel has density up to 1 / (s sqrt(2 pi)), about 4, so these nats are negative. Compare them between models and
    epochs, not with zero."""
    pixels = x[0].numel()
    squared_error = (x - x_hat).pow(2).flatten(1).sum(dim=1)
    return squared_error * torch.exp(-2 * log_noise_level) / 2 + pixels * (
        log_noise_level + 0.5 * math.log(2 * math.pi)
    )


@dataclass(frozen=True)
class ELBOTerms:
    reconstruction: torch.Tensor  # (B,) -E_q[log p(x|z)], one-sample estimate
    kl: torch.Tensor  # (B,) KL(q(z|x) || N(0, I)), closed form

    @property
    def negative_elbo(self) -> torch.Tensor:
        return self.reconstruction + self.kl


def elbo_terms(model: VAE, x: torch.Tensor, generator: torch.Generator | None = None) -> ELBOTerms:
    x = x.to(model_device(model))
    x_hat, mu, logvar = model(x, generator)
    return ELBOTerms(reconstruction_nll(x_hat, x, model.log_noise_level), kl_to_standard_normal(mu, logvar))


def beta_elbo_loss(terms: ELBOTerms, beta: float) -> torch.Tensor:
    """The training loss, reconstruction + β KL averaged over the B images, in nats:

        L_β = 1/B Σ_i ( −E_q[log p(x_i|z)] + β KL(q(z|x_i) || N(0, I)) ).

    β = 1 is the negative ELBO itself; β < 1 (the warm-up, kl_warmup_beta) lets the codes carry information before
    the KL term pulls them towards the prior."""
    return (terms.reconstruction + beta * terms.kl).mean()


def kl_warmup_beta(epoch_progress: float, warmup_epochs: float) -> float:
    """β of beta_elbo_loss during a linear KL warm-up (Bowman et al. 2016's KL annealing): β = min(1, e / E) after
    e epochs (fractions included) of a warm-up over E epochs, then 1 (the ELBO). E = 0: no warm-up, β = 1."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, epoch_progress / warmup_epochs)


# --- latent operations and the bundled models -------------------------------------------------------------------------


def latent_arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a + (b - c): move a by the difference between b and c (the lecture's cat + (dog - pig))."""
    return a + (b - c)


def load(latent_dim: int) -> VAE:
    """The bundled VAE with this latent size, loaded once (raises CheckpointError naming the rebuild command)."""
    name = checkpoint_name(latent_dim)
    return MODELS.get(name, lambda: load_model(VAE, name))


MAP_CODES_FILE = "map_codes.safetensors"  # beside the 2-D model's weights: its mean codes of the whole test set


def save_map_codes(model: VAE, x: torch.Tensor, labels: torch.Tensor, folder: Path) -> None:
    """Write the mean codes of x (N, 2) and their class labels next to a 2-D model, for a map of its latent space."""
    from safetensors.torch import save_file

    codes = encode_mean(model, x).half()
    save_file(
        {"codes": codes.contiguous(), "labels": labels.to(torch.uint8).contiguous()}, str(folder / MAP_CODES_FILE)
    )


def load_map_codes() -> tuple[torch.Tensor, torch.Tensor] | None:
    """The bundled 2-D model's test-set codes (N, 2) and labels (N,), or None where the file is missing or unfit
    (a map then shows the bundled sample's codes instead)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(checkpoint_path(checkpoint_name(2)) / MAP_CODES_FILE))
        codes, labels = tensors["codes"].float(), tensors["labels"].long()
    except (OSError, KeyError, SafetensorError):
        return None
    fit = (
        codes.ndim == 2
        and codes.shape[1] == 2
        and labels.shape == codes.shape[:1]
        and len(codes) > 0
        and bool(torch.isfinite(codes).all())
        and int(labels.min()) >= 0
        and int(labels.max()) < 10
    )
    return (codes, labels) if fit else None


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
