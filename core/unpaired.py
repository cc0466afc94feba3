"""Unpaired image-to-image translation (DualGAN, Yi et al. 2017; CycleGAN, Zhu et al. 2017), in DualGAN's notation.

Two domains U and V with no pairs between them (here Fashion-MNIST sneakers and ankle boots). Two generators,
G_A: U -> V and G_B: V -> U, and two discriminators: D_A tells real v from G_A(u), D_B real u from G_B(v).
The two translators form a loop, and the loop closes the gap that missing pairs leave: G_A(u) must look like a V,
and G_B must be able to bring it back to u. The generator loss of the lecture is

    l^g(u, v) = λ_U ||u − G_B(G_A(u))|| + λ_V ||v − G_A(G_B(v))|| − D_B(G_B(v)) − D_A(G_A(u)),

the cycle terms plus adversarial terms. DualGAN's adversarial terms are Wasserstein critics (the −D(·) above,
with the critic losses l_A^d = D_A(G_A(u)) − D_A(v) and l_B^d = D_B(G_B(v)) − D_B(u)), which need weight clipping
and several critic steps per generator step. The shipped model uses CycleGAN's least-squares form of the same
terms, which trains stably with one D step per G step in the few thousand steps a CPU affords:
G pushes D(fake) to 1, D pushes D(real) to 1 and D(fake) to 0. The cycle terms are the lecture's, with L1 norms.
Both generators are pix2pix's U-Net and both discriminators its PatchGAN (as in DualGAN).
"""

from dataclasses import dataclass

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.blocks import PatchDiscriminator, UNetGenerator, crop_from_model, pad_to_model
from core.catalog import UNPAIRED_CHECKPOINT, UNPAIRED_DEFAULT_DOMAINS
from core.checkpoints import load_model
from core.datasets import FASHION_CLASSES, IMAGE_SIZE
from core.runtime import MODELS, on_model_device

MODEL_SIZE = 32  # the U-Net's power of two: garments are padded by 2 pixels of background
PAD = (MODEL_SIZE - IMAGE_SIZE) // 2


@dataclass(frozen=True)
class UnpairedConfig:
    domain_u: int = UNPAIRED_DEFAULT_DOMAINS[0]  # Fashion-MNIST class of domain U (7: Sneaker)
    domain_v: int = UNPAIRED_DEFAULT_DOMAINS[1]  # class of domain V (9: Ankle boot)
    base_channels: int = 32  # U-Net width at its first level, doubling up to max_channels
    max_channels: int = 128
    d_base_channels: int = 32  # PatchGAN width
    d_stride2_layers: int = 2  # PatchGAN receptive field: 34 px, about the whole garment


class DualGAN(nn.Module, PyTorchModelHubMixin):
    """G_A: U -> V, G_B: V -> U, D_A (judges V), D_B (judges U): one checkpoint."""

    def __init__(self, config: UnpairedConfig = UnpairedConfig()):
        super().__init__()
        self.config = config

        def generator() -> UNetGenerator:
            return UNetGenerator(MODEL_SIZE, 1, 1, config.base_channels, config.max_channels, dropout=0.0)

        def discriminator() -> PatchDiscriminator:
            return PatchDiscriminator(1, config.d_base_channels, config.d_stride2_layers)

        self.g_a, self.g_b = generator(), generator()
        self.d_a, self.d_b = discriminator(), discriminator()

    @property
    def domain_names(self) -> tuple[str, str]:
        return FASHION_CLASSES[self.config.domain_u], FASHION_CLASSES[self.config.domain_v]

    def generator_for(self, direction: str) -> UNetGenerator:
        return {"u->v": self.g_a, "v->u": self.g_b}[check_direction(direction)]

    @on_model_device
    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        """G_A(u) for direction "u->v", G_B(v) for "v->u": (B, 1, 28, 28) in [0, 1] -> the same shape."""
        return from_model(self.generator_for(direction)(to_model(check_images(images))))

    @on_model_device
    def cycle(self, images: torch.Tensor, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(translated, cycled back): for "u->v", (G_A(u), G_B(G_A(u))); for "v->u", (G_B(v), G_A(G_B(v))).
        The way back takes the translation as the networks made it (32 px, unclamped), as in training."""
        there = self.generator_for(direction)(to_model(check_images(images)))
        back = self.generator_for(reverse(direction))(there)
        return from_model(there), from_model(back)


DIRECTIONS = ("u->v", "v->u")


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"The direction must be one of {DIRECTIONS}, not {direction!r}.")
    return direction


def reverse(direction: str) -> str:
    return "v->u" if check_direction(direction) == "u->v" else "u->v"


def check_images(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"Expected garments of shape (B, 1, 28, 28), got {tuple(images.shape)}.")
    return images


def to_model(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, 28, 28) in [0, 1] -> (B, 1, 32, 32) in [-1, 1], padded with the background."""
    return pad_to_model(images, PAD)


def from_model(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, 32, 32) in [-1, 1] -> (B, 1, 28, 28) in [0, 1]."""
    return crop_from_model(x, PAD)


def cycle_loss(
    u: torch.Tensor, u_cycled: torch.Tensor, v: torch.Tensor, v_cycled: torch.Tensor, lambda_u: float, lambda_v: float
) -> torch.Tensor:
    """λ_U ||u − G_B(G_A(u))||_1 + λ_V ||v − G_A(G_B(v))||_1 (per-pixel means), given u_cycled = G_B(G_A(u)) and
    v_cycled = G_A(G_B(v)): each round trip must come home."""
    return lambda_u * (u - u_cycled).abs().mean() + lambda_v * (v - v_cycled).abs().mean()


def least_squares_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """½ [(D(real) − 1)² + D(fake)²]: D's side of the adversarial term (CycleGAN's least-squares form)."""
    return 0.5 * ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean())


def least_squares_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """(D(G(·)) − 1)²: G's side, the least-squares stand-in for the lecture's −D(G(·))."""
    return (fake_scores - 1).pow(2).mean()


def error_map(images: torch.Tensor, cycled: torch.Tensor) -> torch.Tensor:
    """|x − cycled(x)| per pixel, (B, 1, H, W) in [0, 1]: where the round trip lost something."""
    return (images - cycled).abs()


CHECKPOINT = UNPAIRED_CHECKPOINT


def load() -> DualGAN:
    """The bundled sneakers <-> ankle boots translator, cached."""
    return MODELS.get(CHECKPOINT, lambda: load_model(DualGAN, CHECKPOINT))
