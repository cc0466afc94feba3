"""Model building blocks shared by several topics."""

import itertools

import torch
from torch import nn


def mlp(widths: tuple[int, ...]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(w_in, w_out))
        if i < len(widths) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def pad_to_model(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Images (B, C, H, W) in [0, 1] -> the networks' [-1, 1], with `pad` pixels of background (-1) on each side
    (28 px garments -> the 32 px a power-of-two network needs)."""
    x = images * 2 - 1
    return torch.nn.functional.pad(x, (pad,) * 4, value=-1.0) if pad else x


def crop_from_model(x: torch.Tensor, pad: int) -> torch.Tensor:
    """The inverse of pad_to_model: crop `pad` pixels from each side, back to [0, 1] (clamped)."""
    if pad:
        x = x[..., pad:-pad, pad:-pad]
    return ((x + 1) / 2).clamp(0, 1)


def encoder_widths(levels: int, base_channels: int, max_channels: int) -> list[int]:
    """Channels after each stride-2 step of an image encoder: base, 2 base, 4 base, ... capped at max_channels."""
    return [min(base_channels * 2**i, max_channels) for i in range(levels)]


class UNetGenerator(nn.Module):
    """pix2pix's U-Net (Isola et al. 2017): an encoder down to 1 x 1 and a decoder back up, with a skip connection
    from each encoder level to the decoder level of the same size, so that low-level detail (where the edges are)
    crosses straight over instead of squeezing through the bottleneck.

    image (B, C_in, S, S) in [-1, 1] -> image (B, C_out, S, S) in [-1, 1]; S a power of two (log2 S levels).
    Encoder blocks: LeakyReLU(0.2) -> 4x4 conv stride 2 -> BatchNorm (the first block is the conv alone; the
    innermost has no BatchNorm: at 1 x 1 it would erase the code).
    Decoder blocks: ReLU -> 4x4 transposed conv stride 2 -> BatchNorm (-> dropout on the innermost ones while
    training: the paper's noise z) ; the last one ends in tanh.
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        out_channels: int,
        base_channels: int,
        max_channels: int,
        dropout: float = 0.5,
        dropout_levels: int = 2,
    ):
        super().__init__()
        levels = image_size.bit_length() - 1
        if image_size != 2**levels or levels < 2:
            raise ValueError(f"The U-Net needs a power-of-two image size of at least 4, not {image_size}.")
        widths = encoder_widths(levels, base_channels, max_channels)
        self.down = nn.ModuleList()
        for i, width in enumerate(widths):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            has_norm = 0 < i < levels - 1
            layers.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], width, 4, 2, 1, bias=not has_norm))
            if has_norm:
                layers.append(nn.BatchNorm2d(width))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):  # from the 1 x 1 bottleneck back to full size
            c_in = widths[i] if i == levels - 1 else 2 * widths[i]  # all but the innermost also get their skip
            layers = [nn.ReLU()]
            if i == 0:
                layers += [nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers += [nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(widths[i - 1])]
                if dropout > 0 and i >= levels - dropout_levels:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)  # (B, width_i, S / 2^(i+1), S / 2^(i+1))
        h = skips.pop()  # (B, width_last, 1, 1)
        for i, block in enumerate(self.up):
            if i > 0:
                h = torch.cat([h, skips.pop()], dim=1)  # the skip connection
            h = block(h)
        return h  # (B, C_out, S, S)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): a fully convolutional D that says real/fake for each overlapping patch.

    image (B, C, S, S) -> logits (B, 1, S', S'), one per patch. With n stride-2 layers the receptive field is
    16 px (n = 1), 34 px (n = 2) or 70 px (n = 3, the paper's 70 x 70 PatchGAN on 256 px images).
    """

    def __init__(self, in_channels: int, base_channels: int, stride2_layers: int = 2, max_channels: int = 256):
        super().__init__()
        widths = encoder_widths(stride2_layers + 1, base_channels, max_channels)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, stride2_layers + 1):
            stride = 2 if i < stride2_layers else 1
            layers += [
                nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1, bias=False),
                nn.BatchNorm2d(widths[i]),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
