"""Generative adversarial networks (Goodfellow et al. 2014), DCGAN-style, in the lecture's terms.

The generator G maps noise z ~ N(0, I) to an image; the discriminator D is a classifier giving the probability
that its input is real. They play the lecture's minimax game

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].

D ascends V. For G the bundled recipes descend the *non-saturating* form -log D(G(z)) instead of log(1 - D(G(z))):
both are minimised by D(G(z)) = 1, but early in training, when D easily rejects fakes, log(1 - D(G(z))) is flat and
gives G almost no gradient (Goodfellow et al. make the same switch). Both forms live here as functions.

The conditional GAN (Mirza & Osindero 2014) gives the class vector y to both networks: G(z, y) and D(x, y).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.checkpoints import load_model
from core.runtime import MODELS, on_model_device

NUM_CLASSES = 10


@dataclass(frozen=True)
class GANConfig:
    latent_dim: int = 64  # size of z
    channels: int = 64  # width of G's 14x14 stage and D's first layer; 7x7 stages use twice this
    num_classes: int = 0  # 0: unconditional GAN; 10: conditional GAN on the Fashion-MNIST classes
    minibatch_std_group: int = 0  # > 0: D also sees the spread of its features over groups of this many images
    # (ProGAN/StyleGAN's minibatch standard deviation): a batch of near-copies betrays itself, so collapse costs G


class Generator(nn.Module):
    """z (B, latent_dim) [+ one-hot y (B, classes)] -> image (B, 1, 28, 28) in [0, 1].

    Linear -> (2C, 7, 7) -> transposed conv -> (C, 14, 14) -> transposed conv -> (C/2, 28, 28) -> conv -> tanh.
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        c = config.channels
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim + config.num_classes, 2 * c * 7 * 7, bias=False),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(inplace=True),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, 1, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, y_onehot: torch.Tensor | None = None) -> torch.Tensor:
        h = z if y_onehot is None else torch.cat([z, y_onehot.to(z.dtype)], dim=1)
        return (self.upsample(self.project(h)) + 1) / 2  # tanh's [-1, 1] -> pixel range [0, 1]


class Discriminator(nn.Module):
    """image (B, 1, 28, 28) in [0, 1] [+ class y] -> logit of "real" (B,). D(x) = sigmoid(logit).

    Conv (C, 14, 14) -> conv (2C, 7, 7) -> features h (2C*49). Conditional: a projection term <embed(y), h> adds the
    class to the decision (Miyato & Koyama 2018), so D judges "a real image of class y", not just "a real image".
    """

    def __init__(self, config: GANConfig):
        super().__init__()
        c = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * c),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
        )
        self.minibatch_std_group = config.minibatch_std_group
        width = 2 * c * 7 * 7 + (7 * 7 if self.minibatch_std_group else 0)
        self.to_logit = nn.Linear(width, 1)
        self.class_embedding = nn.Embedding(config.num_classes, width) if config.num_classes else None
        if self.class_embedding is not None:
            nn.init.normal_(self.class_embedding.weight, std=0.01)  # N(0, 1) would swamp the logit: 6,272 terms

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x * 2 - 1)  # (B, 2C*49)
        if self.minibatch_std_group:
            h = torch.cat([h, minibatch_std(h, self.minibatch_std_group).expand(-1, 7 * 7)], dim=1)  # (B, 2C*49 + 49)
        logit = self.to_logit(h).squeeze(1)
        if self.class_embedding is not None:
            logit = logit + (self.class_embedding(y) * h).sum(dim=1)
        return logit


def minibatch_std(h: torch.Tensor, group: int) -> torch.Tensor:
    """For each image, the mean standard deviation of the features h (B, F) over its group of `group` images
    (the whole batch when B is not a multiple): (B, 1). Real batches are varied; a collapsed G's are not."""
    size = group if len(h) % group == 0 else len(h)
    grouped = h.view(-1, size, h.shape[1]).float()  # (B / size, size, F)
    spread = grouped.var(dim=1, unbiased=False).add(1e-8).sqrt().mean(dim=1)  # (B / size,)
    return spread.repeat_interleave(size).view(-1, 1).to(h.dtype)


class GAN(nn.Module, PyTorchModelHubMixin):
    """G and D together: one checkpoint folder, so that D's verdicts on G's samples can be shown."""

    def __init__(self, config: GANConfig = GANConfig()):
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    @property
    def conditional(self) -> bool:
        return self.config.num_classes > 0

    def check_classes(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """y as given for the conditional GAN (a class index in range for every sample); None otherwise."""
        if not self.conditional:
            return None
        if y is None:
            raise ValueError("The conditional GAN needs a class for every sample.")
        if y.numel() and (y.min() < 0 or y.max() >= self.config.num_classes):
            raise ValueError(f"Classes must lie in 0..{self.config.num_classes - 1}.")
        return y

    def one_hot(self, y: torch.Tensor | None) -> torch.Tensor | None:
        y = self.check_classes(y)
        return None if y is None else F.one_hot(y, self.config.num_classes).float()

    @on_model_device
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) or G(z, y): images (B, 1, 28, 28) in [0, 1]."""
        return self.generator(z, self.one_hot(y))

    @on_model_device
    def d_logit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.discriminator(x, self.check_classes(y))

    @on_model_device
    def d_probability(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D(x): the discriminator's probability that x is real, (B,)."""
        return torch.sigmoid(self.d_logit(x, y))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) per batch: -[log D(x) + log(1 - D(G(z)))], averaged. D descends this, i.e. ascends V."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The lecture's G objective: log(1 - D(G(z))), averaged; G descends it. Saturates when D rejects fakes."""
    return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)


def generator_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)), averaged: the same fixed point as the minimax form, strong gradients when D wins."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


# --- the Wasserstein GAN with gradient penalty (Gulrajani et al. 2017) -------------------------------------------
# D becomes a critic with unbounded scores; for a 1-Lipschitz critic E_x[D(x)] − E_z[D(G(z))] estimates the
# Wasserstein-1 distance between the data and G's samples (the form DualGAN's losses in the lecture use).


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """L_D = E_z[D(G(z))] − E_x[D(x)]: the critic descends it, i.e. widens the gap between real and fake scores
    (add λ · gradient_penalty to keep it 1-Lipschitz)."""
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """L_G = −E_z[D(G(z))]: G descends it, raising the critic's scores of its samples."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """WGAN-GP's soft Lipschitz constraint, E_x̂[(||∇_x̂ D(x̂)||_2 − 1)²] at x̂ = u x + (1 − u) G(z), u ~ U[0, 1] drawn
    per sample (from `generator`, on its device): points between real and fake samples, where the critic's slope
    matters. Any sample shape (B, ...); the gradient's norm is taken over all of a sample's values."""
    drawn_on = real.device if generator is None else generator.device
    u = torch.rand(len(real), *([1] * (real.dim() - 1)), generator=generator, dtype=real.dtype, device=drawn_on)
    u = u.to(real.device)
    between = (u * real + (1 - u) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


GAN_CHECKPOINTS = ("gan", "cgan")


def load(name: str) -> GAN:
    """The bundled `gan` (unconditional) or `cgan` (conditional) checkpoint, cached."""
    return MODELS.get(name, lambda: load_model(GAN, name))
