"""Cheap on-the-fly augmentation of (B, 1, H, W) batches for the classifier."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_flip_and_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Mirror half the images left-right and shift each by up to `max_shift` pixels (zero padding)."""
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=generator) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    padded = F.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy.view(b, 1) + torch.arange(h).view(1, h)).view(b, 1, h, 1).expand(b, 1, h, w + 2 * max_shift)
    shifted_rows = padded.gather(2, rows)  # (B, 1, H, W + 2s)
    cols = (dx.view(b, 1) + torch.arange(w).view(1, w)).view(b, 1, 1, w).expand(b, 1, h, w)
    return shifted_rows.gather(3, cols)  # (B, 1, H, W)


def mirror(*batches: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Mirror the same random half of the images left-right in each of the given aligned batches (pairs stay pairs)."""
    flip = (torch.rand(len(batches[0]), generator=generator) < 0.5).view(-1, 1, 1, 1)
    return tuple(torch.where(flip, x.flip(-1), x) for x in batches)


def shift(*batches: torch.Tensor, max_shift: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Move aligned batches by one random offset of up to max_shift pixels. Only for images framed with a margin of
    at least max_shift (the emoji), where rolling wraps nothing but background around."""
    if max_shift == 0:
        return batches
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    return tuple(x.roll((dy, dx), dims=(-2, -1)) for x in batches)
