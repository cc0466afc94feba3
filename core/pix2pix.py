"""pix2pix (Isola et al. 2017): image-to-image translation with a conditional GAN, here edges -> picture.

The condition is an image x (an edge map) instead of a class. G is a U-Net, D a PatchGAN that sees the pair
(x, y) and says real/fake for each patch. The lecture's objective:

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_{x,z}[log(1 - D(x, G(x, z)))]
    L_L1(G)      = E_{x,y,z}[||y - G(x, z)||_1]
    G*           = arg min_G max_D L_cGAN(G, D) + λ L_L1(G),   λ = 100.

L1 alone already gets the layout right, but for an uncertain detail it predicts the average of the possibilities:
a blur. The cGAN term punishes anything D can tell from a real patch, blur included. Each data set ships both
models (`pix2pix_<set>` with L1 + cGAN, `pix2pix_<set>_l1` with L1 only) for the paper's comparison.
As in the paper, the noise z is dropout in G's innermost decoder layers while training; the shipped models run
deterministically (the paper found G largely ignores z).
"""

from dataclasses import dataclass
from typing import NamedTuple

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.blocks import PatchDiscriminator, UNetGenerator, crop_from_model, pad_to_model
from core.catalog import PIX2PIX_CHECKPOINTS, PIX2PIX_OBJECTIVES
from core.checkpoints import load_model
from core.edges import edge_map, is_line_drawing, sketch_to_edges
from core.gan import discriminator_loss, generator_loss_non_saturating
from core.images import EmptyImageError, to_colour_input, to_grayscale_ink, to_model_input
from core.runtime import MODELS, on_model_device

LAMBDA_L1 = 100.0  # the paper's λ


@dataclass(frozen=True)
class PairedSet:
    """A data set of (edge map, picture) pairs, made by running Canny over the pictures."""

    name: str
    size: int  # pictures are size x size
    channels: int  # 1 grey, 3 colour
    canny_sigma: float  # blur before Canny: larger keeps outlines, drops texture
    margin: int  # empty border around the object in the data (a drawing is framed the same way)
    title: str


PAIRED_SETS = {
    "fashion": PairedSet("fashion", 28, 1, 1.0, 0, "Fashion-MNIST garments: edges -> garment (28 x 28, grey)"),
    "emoji": PairedSet("emoji", 64, 3, 1.5, 2, "Noto Color Emoji: edges -> colour picture (64 x 64)"),
}


@dataclass(frozen=True)
class Pix2PixConfig:
    dataset: str = "fashion"  # a key of PAIRED_SETS
    objective: str = "l1+cgan"  # "l1+cgan" (the paper's) or "l1" (L1 alone, the blurry baseline)
    base_channels: int = 32  # G's first encoder level; doubling per level up to max_channels
    max_channels: int = 128
    dropout: float = 0.5  # in G's two innermost decoder blocks while training (the paper's z)
    d_base_channels: int = 32  # PatchGAN width (no D for the L1-only model)
    d_stride2_layers: int = 2  # PatchGAN receptive field: 34 px


def model_size(data: PairedSet) -> int:
    """The U-Net needs a power of two: 28 px garments are padded to 32, 64 px emoji stay."""
    return 1 << (data.size - 1).bit_length()


class Pix2Pix(nn.Module, PyTorchModelHubMixin):
    """G (U-Net, edges -> picture) and, for the cGAN model, D (PatchGAN on the pair), in one checkpoint."""

    def __init__(self, config: Pix2PixConfig = Pix2PixConfig()):
        super().__init__()
        if config.dataset not in PAIRED_SETS or config.objective not in OBJECTIVES:
            raise ValueError(f"Unknown data set {config.dataset!r} or objective {config.objective!r}.")
        self.config = config
        self.data = PAIRED_SETS[config.dataset]
        self.size = model_size(self.data)
        self.pad = (self.size - self.data.size) // 2
        self.generator = UNetGenerator(
            self.size, 1, self.data.channels, config.base_channels, config.max_channels, dropout=config.dropout
        )
        self.discriminator = (
            PatchDiscriminator(1 + self.data.channels, config.d_base_channels, config.d_stride2_layers)
            if config.objective == "l1+cgan"
            else None
        )

    # The networks work in [-1, 1] at a power-of-two size; everything outside works in [0, 1] at the data's size.
    def to_model(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, size, size) in [0, 1] -> (B, C, S, S) in [-1, 1], padded with the background (-1)."""
        return pad_to_model(images, self.pad)

    def from_model(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) in [-1, 1] -> (B, C, size, size) in [0, 1]."""
        return crop_from_model(x, self.pad)

    def check_edges(self, edges: torch.Tensor) -> torch.Tensor:
        expected = (1, self.data.size, self.data.size)
        if edges.ndim != 4 or tuple(edges.shape[1:]) != expected:
            raise ValueError(
                f"Expected edge maps of shape (B, {', '.join(map(str, expected))}), got {tuple(edges.shape)}."
            )
        return edges

    @on_model_device
    def translate(self, edges: torch.Tensor) -> torch.Tensor:
        """G(x): edge maps (B, 1, size, size) in {0, 1} -> pictures (B, C, size, size) in [0, 1]."""
        return self.from_model(self.generator(self.to_model(self.check_edges(edges))))

    @on_model_device
    def patch_realness(self, edges: torch.Tensor, pictures: torch.Tensor) -> torch.Tensor:
        """D(x, y) per patch: (B, 1, P, P) probabilities that each patch of the pair is real (cGAN model only)."""
        if self.discriminator is None:
            raise ValueError("The L1-only model has no discriminator.")
        pair = torch.cat([self.to_model(self.check_edges(edges)), self.to_model(pictures)], dim=1)
        return torch.sigmoid(self.discriminator(pair))


def l1_loss(y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    """L_L1(G) = E ||y − G(x, z)||_1, per pixel."""
    return (y - y_hat).abs().mean()


class GeneratorObjective(NamedTuple):
    total: torch.Tensor  # what G descends: adversarial + λ · l1
    adversarial: torch.Tensor  # G's cGAN term, −log D(x, G(x, z)) averaged over D's patches; 0 without D
    l1: torch.Tensor  # L_L1(G) per pixel


def generator_objective(
    fake_logits: torch.Tensor | None, y: torch.Tensor, y_hat: torch.Tensor, lambda_l1: float = LAMBDA_L1
) -> GeneratorObjective:
    """G's side of G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G):

        L_G = −E_(x,z)[log D(x, G(x, z))] + λ E_(x,y,z)[||y − G(x, z)||_1],

    the cGAN term in the non-saturating form (core.gan.generator_loss_non_saturating: the same goal as
    log(1 − D(x, G(x, z))), with a gradient while D still rejects G's pictures). fake_logits: D's patch logits for the
    pairs (x, G(x)), or None for the L1-only model, whose total is then λ L_L1 alone."""
    l1 = l1_loss(y, y_hat.float())
    adversarial = (
        torch.zeros((), device=l1.device) if fake_logits is None else generator_loss_non_saturating(fake_logits.float())
    )
    return GeneratorObjective(adversarial + lambda_l1 * l1, adversarial, l1)


def discriminator_objective(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's side, −L_cGAN(G, D) halved as in the paper (it slows D down relative to G):

        L_D = ½ (−E_(x,y)[log D(x, y)] − E_(x,z)[log(1 − D(x, G(x, z)))]),

    from D's patch logits for real pairs (x, y) and for fake pairs (x, G(x)) (pass G(x) detached)."""
    return 0.5 * discriminator_loss(real_logits.float(), fake_logits.float())


OBJECTIVES = PIX2PIX_OBJECTIVES


# --- from what a user gives to what the model reads ---------------------------------------------------------------


def edges_of_pictures(pictures: torch.Tensor, data: PairedSet) -> torch.Tensor:
    """The training input: Canny edges of (B, C, size, size) pictures in [0, 1]."""
    return edge_map(pictures, data.canny_sigma)


def picture_from_image(image, data: PairedSet) -> torch.Tensor:
    """A picture -> (1, C, size, size) in [0, 1], framed as the data set's pictures are: the object's box
    scaled to size - 2 margin on the picture's own background. A picture already size x size is taken as it is."""
    if data.channels == 1:  # garments: bright on black; longest side filling the frame, like Fashion-MNIST's
        return to_model_input(image, data.size, margin=data.margin)
    return to_colour_input(image, data.size, data.margin)


INPUT_KINDS = ("auto", "drawing", "picture")


@dataclass(frozen=True)
class ModelInput:
    edges: torch.Tensor  # (1, 1, size, size) in {0, 1}: what G reads
    kind: str  # "drawing" or "picture": how the input was read
    picture: torch.Tensor | None  # the framed picture (the ground truth y) when the input was a picture


def drawing_margin(data: PairedSet) -> int:
    """Canny never marks an image's outermost pixels, so drawn lines keep at least one pixel off the border."""
    return max(data.margin, 1)


def input_edges(image, data: PairedSet, kind: str = "auto") -> ModelInput:
    """What G reads for any input: a drawing is thinned to its centre lines, framed and thinned to one-pixel strokes
    (as Canny's edges are); a picture is framed and goes through Canny, as the training pairs did. `auto` tells
    them apart by shading and by how much of its box the ink covers (core.edges.is_line_drawing)."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"The input kind must be one of {INPUT_KINDS}, not {kind!r}.")
    if kind == "auto":
        kind = "drawing" if is_line_drawing(to_grayscale_ink(image)) else "picture"
    if kind == "drawing":
        return ModelInput(sketch_to_edges(image, data.size, drawing_margin(data)), kind, None)
    picture = picture_from_image(image, data)
    edges = edges_of_pictures(picture, data)
    if edges.sum() == 0:
        raise EmptyImageError("Canny found no edges in this picture: its contrast is too low.")
    return ModelInput(edges, kind, picture)


CHECKPOINTS = PIX2PIX_CHECKPOINTS  # (data set, objective) -> name; core/catalog.py: the page needs them before torch


def load(dataset: str, objective: str = "l1+cgan") -> Pix2Pix:
    """The bundled pix2pix model for a data set and objective, cached."""
    name = CHECKPOINTS[(dataset, objective)]
    return MODELS.get(name, lambda: load_model(Pix2Pix, name))
