"""Pictures for people: crisp upscaled images, grids and signed-value colour maps (core returns tensors)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.datasets import IMAGE_SIZE
from core.runtime import on_cpu


def to_display(x: torch.Tensor | np.ndarray, scale: int = 8) -> Image.Image:
    """A (1, H, W), (H, W) or (1, 1, H, W) image in [0, 1] -> crisp PIL image, upscaled by nearest neighbour."""
    array = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    array = np.squeeze(array)
    if array.ndim == 3 and array.shape[0] in (1, 3):  # (C, H, W) -> (H, W, C)
        array = np.moveaxis(array, 0, -1)
    pil = Image.fromarray((np.clip(array, 0, 1) * 255).round().astype(np.uint8))
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def grid_cell_px(side: int = IMAGE_SIZE, scale: int = 4, pad: int = 1) -> int:
    """The pitch of image_grid's cells in its picture: one image of `side` pixels and its gutter, upscaled."""
    return (side + pad) * scale


def image_grid(images: torch.Tensor, columns: int, scale: int = 4, pad: int = 1) -> Image.Image:
    """(N, C, H, W) in [0, 1], C = 1 or 3 -> one crisp grid image, `columns` wide, with `pad` pixel grey gutters
    (torchvision's make_grid; the last row's empty cells are grey too, so every grid of a tab has the same width)."""
    from torchvision.utils import make_grid  # imported on use: torchvision adds a second to the app's cold start

    images = on_cpu(images.detach()).float()
    channels = images.shape[1]
    blanks = images.new_full(((-len(images)) % columns, *images.shape[1:]), 0.5)
    cells = torch.cat([images, blanks])
    if len(cells) == 1:  # make_grid hands a lone image back without its gutter
        grid = torch.nn.functional.pad(cells[0], (pad, pad, pad, pad), value=0.5)
    else:
        grid = make_grid(cells, nrow=columns, padding=pad, pad_value=0.5)[:channels]  # grey comes back as RGB
    return to_display(grid, scale=scale)


def signed_to_rgb(weights: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) signed values -> (N, 3, H, W) in [0, 1]: white at 0, red positive, blue negative.

    Each image is scaled by its own largest magnitude, so the pattern, not the scale, is what shows.
    """
    v = weights / weights.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)  # in [-1, 1]
    red = 1 - (-v).clamp(min=0)
    blue = 1 - v.clamp(min=0)
    green = 1 - v.abs()
    return torch.cat([red, green, blue], dim=1)
