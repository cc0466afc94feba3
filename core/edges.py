"""Edge maps, what pix2pix translates from: Canny edges of pictures, and drawings thinned to look like them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.images import EmptyImageError, frame_object, to_grayscale_ink


def edge_map(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, H, W) images in [0, 1] -> (B, 1, H, W) Canny edges in {0, 1} (1 = an edge), one pixel wide.

    Canny (scikit-image) on the luminance: Gaussian blur of width sigma, gradient, thinning to the gradient's
    ridge, hysteresis between two thresholds. A larger sigma keeps outlines and drops texture.
    """
    from skimage.feature import canny

    weights = torch.tensor([0.299, 0.587, 0.114]) if images.shape[1] == 3 else torch.ones(1)
    luminance = (images.float() * weights.view(1, -1, 1, 1)).sum(dim=1).numpy()
    edges = np.stack([canny(image, sigma=sigma) for image in luminance])
    return torch.from_numpy(edges).float().unsqueeze(1)


def is_line_drawing(ink: np.ndarray) -> bool:
    """True for pen strokes (a sketch, an edge map), False for a picture: strokes are nearly all full ink (no
    shading) and leave most of their bounding box empty (a filled silhouette counts as a picture: Canny finds
    its outline)."""
    strokes, inked = ink > 0.5, ink > 0.1
    if not strokes.any():
        return False
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    coverage = strokes[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].mean()
    shading = (inked & (ink < 0.9)).sum() / inked.sum()
    return coverage < 0.5 and shading < 0.3


def sketch_to_edges(image, size: int, margin: int) -> torch.Tensor:
    """A drawing (any mode: dark strokes on a transparent canvas or on white, light on black) -> (1, 1, size, size) in {0, 1},
    made to look like the training edge maps: the strokes are thinned to their centre lines at full resolution
    (so the pen's width does not matter), framed as the data is (their box scaled to fit size - 2 margin,
    centred), and thinned again to one-pixel lines, as Canny's are.
    """
    from skimage.morphology import dilation, skeletonize

    ink = to_grayscale_ink(image)
    strokes = ink > 0.2
    if not strokes.any():
        raise EmptyImageError("The drawing is empty: it has no strokes.")
    centre_lines = skeletonize(strokes)
    rows, cols = np.flatnonzero(centre_lines.any(axis=1)), np.flatnonzero(centre_lines.any(axis=0))
    scale = (size - 2 * margin) / max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    widen = max(1, round(1 / scale))  # about one output pixel wide, so no line falls between samples
    lines = dilation(centre_lines, np.ones((widen, widen), dtype=bool)) if widen > 1 else centre_lines
    framed = frame_object(lines.astype(np.float64), centre_lines, size, margin, resample=Image.BOX)
    return torch.from_numpy(skeletonize(framed > 0.25)).float().view(1, 1, size, size)
