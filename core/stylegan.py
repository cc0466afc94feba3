"""A StyleGAN-style generator (Karras et al. 2019) at 28 px, in the lecture's terms.

The lecture's point: a GAN's input z is a smooth Gaussian, but the data distribution may be skewed or fragmented.
Instead of forcing z straight into images, StyleGAN first learns a mapping f: Z -> W, an 8-layer MLP, so that the
intermediate latent w can follow the data's shape; W is more disentangled than Z. The synthesis network starts
from a learned constant and each layer is modulated by w through adaptive instance normalisation

    AdaIN(x_i, w) = y_s,i(w) * (x_i - mu(x_i)) / sigma(x_i) + y_b,i(w)     (per channel i; y = A(w), a learned affine).

Because each layer takes its own copy of w, two codes can be mixed: coarse layers from one, fine from another
(style mixing). Truncation in W, w' = w_avg + psi (w - w_avg), trades variety for typicality.

Simplifications at this size, said plainly: no per-pixel noise inputs (their stochastic detail is invisible at
28 px and they would make a seed's image change between calls), no progressive growing, no equalised learning rate
(the mapping network's learning rate is scaled down instead, as StyleGAN does).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from core.checkpoints import load_model
from core.gan import Discriminator, GANConfig
from core.runtime import MODELS, on_model_device


@dataclass(frozen=True)
class StyleGANConfig:
    latent_dim: int = 64  # size of z
    w_dim: int = 64  # size of w
    mapping_layers: int = 8  # the lecture: "Mapping network is an 8-layer MLP"
    channels: tuple[int, ...] = (128, 64, 32)  # synthesis widths at 7, 14 and 28 px
    discriminator_channels: int = 64  # the DCGAN discriminator of core/gan.py
    minibatch_std_group: int = 4  # StyleGAN's discriminator sees the feature spread over groups of 4 images; without
    # it, a first run (8 epochs) collapsed onto a few garments (no sandals or bags among 1,000 samples, FD 40.9)


def pixel_norm(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """z / sqrt(mean(z^2)): StyleGAN normalises z before the mapping network."""
    return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """f: z (B, latent_dim) -> w (B, w_dim); `layers` x (Linear, LeakyReLU 0.2)."""

    def __init__(self, config: StyleGANConfig):
        super().__init__()
        layers: list[nn.Module] = []
        width = config.latent_dim
        for _ in range(config.mapping_layers):
            linear = nn.Linear(width, config.w_dim)
            nn.init.kaiming_normal_(linear.weight, a=0.2)  # variance-preserving: 8 default-initialised layers
            nn.init.zeros_(linear.bias)  # would shrink w a thousandfold before training starts
            layers += [linear, nn.LeakyReLU(0.2, inplace=True)]
            width = config.w_dim
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_norm(z))


class AdaIN(nn.Module):
    """Normalise each channel of x over its pixels, then scale and shift it by a style computed from w."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.to_style = nn.Linear(w_dim, 2 * channels)  # A in the paper
        nn.init.zeros_(self.to_style.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_style(w)[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return (1 + scale) * F.instance_norm(x) + shift  # y_s = 1 + scale: starts as the identity


class StyledConv(nn.Module):
    """[upsample x2] -> conv 3x3 -> LeakyReLU -> AdaIN(w)."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.adain = AdaIN(c_out, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.adain(F.leaky_relu(self.conv(x), 0.2), w)


class SynthesisNetwork(nn.Module):
    """A learned constant (C0, 7, 7) -> two styled convs per resolution (7, 14, 28 px) -> 1x1 conv -> tanh.

    Takes one w per styled layer, ws (B, num_ws, w_dim): the same w repeated, or two codes mixed.
    """

    def __init__(self, config: StyleGANConfig):
        super().__init__()
        c7, c14, c28 = config.channels
        self.constant = nn.Parameter(torch.randn(1, c7, 7, 7))
        self.input_style = AdaIN(c7, config.w_dim)
        self.layers = nn.ModuleList(
            [
                StyledConv(c7, c7, config.w_dim),  # 7 px: coarse (pose, silhouette)
                StyledConv(c7, c14, config.w_dim, upsample=True),
                StyledConv(c14, c14, config.w_dim),  # 14 px
                StyledConv(c14, c28, config.w_dim, upsample=True),
                StyledConv(c28, c28, config.w_dim),  # 28 px: fine
            ]
        )
        self.to_image = nn.Conv2d(c28, 1, 1)

    @property
    def num_ws(self) -> int:
        return 1 + len(self.layers)

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x = self.input_style(self.constant.expand(len(ws), -1, -1, -1), ws[:, 0])  # (B, C0, 7, 7)
        for i, layer in enumerate(self.layers, start=1):
            x = layer(x, ws[:, i])
        return (torch.tanh(self.to_image(x)) + 1) / 2  # (B, 1, 28, 28) in [0, 1]


class StyleGAN(nn.Module, PyTorchModelHubMixin):
    """Mapping network + synthesis network (the generator) + the DCGAN discriminator, in one checkpoint."""

    def __init__(self, config: StyleGANConfig = StyleGANConfig()):
        super().__init__()
        self.config = config
        self.mapping = MappingNetwork(config)
        self.synthesis = SynthesisNetwork(config)
        self.discriminator = Discriminator(
            GANConfig(channels=config.discriminator_channels, minibatch_std_group=config.minibatch_std_group)
        )
        self.register_buffer("w_avg", torch.zeros(config.w_dim))

    @property
    def num_ws(self) -> int:
        return self.synthesis.num_ws

    @on_model_device
    def map(self, z: torch.Tensor) -> torch.Tensor:
        """w = f(z): (B, latent_dim) -> (B, w_dim)."""
        return self.mapping(z)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """One w for every styled layer: (B, w_dim) -> (B, num_ws, w_dim)."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    @on_model_device
    def synthesize(self, w: torch.Tensor) -> torch.Tensor:
        """Images from w (B, w_dim) or per-layer ws (B, num_ws, w_dim)."""
        ws = self.broadcast(w) if w.dim() == 2 else w
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.config.w_dim):
            raise ValueError(
                f"Expected w of shape (B, {self.config.w_dim}) or (B, {self.num_ws}, {self.config.w_dim}), "
                f"not {tuple(w.shape)}."
            )
        return self.synthesis(ws)

    @on_model_device
    def generate(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """G(z) = synthesis(truncate(f(z), psi)): images (B, 1, 28, 28) in [0, 1]."""
        return self.synthesize(truncate(self.map(z), self.w_avg, psi))

    @on_model_device
    def d_probability(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.discriminator(x))


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick in W: w' = w_avg + psi (w - w_avg). psi = 1: unchanged; psi = 0: the average image."""
    w_avg = w_avg.to(w.device)
    return w_avg + psi * (w - w_avg)


def style_mix(ws_a: torch.Tensor, ws_b: torch.Tensor, crossover: int) -> torch.Tensor:
    """Per-layer codes: layers before `crossover` from a (coarse: shape), the rest from b (fine: texture, shading)."""
    if not 0 <= crossover <= ws_a.shape[1]:
        raise ValueError(f"The crossover must lie in 0..{ws_a.shape[1]}, not {crossover}.")
    layer = torch.arange(ws_a.shape[1], device=ws_a.device).view(1, -1, 1)
    return torch.where(layer < crossover, ws_a, ws_b)


def load() -> StyleGAN:
    """The bundled `stylegan` checkpoint, cached."""
    return MODELS.get("stylegan", lambda: load_model(StyleGAN, "stylegan"))


def principal_plane(points: torch.Tensor) -> torch.Tensor:
    """Project (N, D) points onto their first two principal axes: (N, 2)."""
    centred = points - points.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return centred @ v[:2].T


def nearest_centroid_accuracy(codes: torch.Tensor, labels: torch.Tensor) -> float:
    """How well the class of G's output can be read off a code: fit class centroids on the first half, classify the
    second half by the nearest centroid. Higher in W than in Z is the lecture's "W is more disentangled"."""
    half = len(codes) // 2
    train_codes, train_labels = codes[:half], labels[:half]
    present = train_labels.unique()
    centroids = torch.stack([train_codes[train_labels == c].mean(0) for c in present])
    predicted = present[torch.cdist(codes[half:], centroids).argmin(dim=1)]
    return (predicted == labels[half:]).float().mean().item()
