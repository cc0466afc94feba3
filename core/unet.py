"""The ε-predictor ε_θ(x_t, t) of the pixel-space diffusion model: a lean U-Net for the CPU (core/diffusion.py
holds the process and the samplers around it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style sinusoidal features of the step index t (B,) -> (B, dim)."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


class ResidualBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the step's embedding as a per-channel shift, twice; a 1×1 skip if widths differ."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.embed = nn.Linear(embed_dim, c_out)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity: stable early training
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.embed(embedding)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a small feature map (used only at the lowest resolution)."""

    def __init__(self, channels: int, heads: int = 4, groups: int = 8):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 1
    channels: tuple[int, ...] = (32, 64, 128)  # widths at 28, 14 and 7 px
    blocks_per_level: int = 1  # what the shipped ddpm and its recipe use
    attention_at_lowest: bool = True  # self-attention only at 7x7: attention at 28x28 is what makes U-Nets slow on CPUs
    sample_size: int = 28


class DiffusionUNet(nn.Module, PyTorchModelHubMixin):
    """ε_θ(x_t, t): a U-Net (encoder, bottleneck, decoder with skip connections) that predicts the added noise.

    Lean for the CPU: three resolutions, residual blocks, attention only at the lowest resolution. `forward`
    follows diffusers' UNet2DModel in taking (sample, timestep) and returning the noise estimate's shape.
    """

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        if isinstance(config, dict):  # from_pretrained hands the saved config back as a dict
            config = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
        self.config = config
        widths = config.channels
        embed_dim = 4 * widths[0]
        self.time_mlp = nn.Sequential(nn.Linear(widths[0], embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.stem = nn.Conv2d(config.in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_widths = [widths[0]]
        c = widths[0]
        for level, width in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(config.blocks_per_level):
                blocks.append(ResidualBlock(c, width, embed_dim))
                c = width
                skip_widths.append(c)
            self.down.append(blocks)
            last = level == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))
            if not last:
                skip_widths.append(c)
        self.mid1 = ResidualBlock(c, c, embed_dim)
        self.mid_attention = SelfAttention(c) if config.attention_at_lowest else nn.Identity()
        self.mid2 = ResidualBlock(c, c, embed_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level, width in reversed(list(enumerate(widths))):
            blocks = nn.ModuleList()
            for _ in range(config.blocks_per_level + 1):
                blocks.append(ResidualBlock(c + skip_widths.pop(), width, embed_dim))
                c = width
            self.up.append(blocks)
            self.upsample.append(nn.Upsample(scale_factor=2, mode="nearest") if level > 0 else nn.Identity())
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, config.in_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | int) -> torch.Tensor:
        t = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(sample.shape[0])
        embedding = self.time_mlp(timestep_embedding(t, self.config.channels[0]).to(sample.dtype))
        h = self.stem(sample)
        skips = [h]
        for blocks, downsample in zip(self.down, self.downsample):
            for block in blocks:
                h = block(h, embedding)
                skips.append(h)
            if not isinstance(downsample, nn.Identity):
                h = downsample(h)
                skips.append(h)
        h = self.mid2(self.mid_attention(self.mid1(h, embedding)), embedding)
        for blocks, upsample in zip(self.up, self.upsample):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), embedding)
            h = upsample(h)
        return self.out(h)
