"""Small figures drawn with Pillow (no plotting library needed): a class-coloured scatter of 2-D codes."""
from PIL import Image, ImageDraw

import torch

# Ten colours that stay distinct on a projector (Tableau 10).
CLASS_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


def scatter_codes(points: list[tuple[float, float]], labels: torch.Tensor, size: int, radius: int = 3) -> Image.Image:
    """Dots at pixel positions, coloured by class, on white with a light cross through the origin's pixel."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(size / 2, 0), (size / 2, size)], fill="#e5e7eb")
    draw.line([(0, size / 2), (size, size / 2)], fill="#e5e7eb")
    for (x, y), label in zip(points, labels.tolist()):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=CLASS_COLOURS[label % len(CLASS_COLOURS)])
    return image


def mark(image: Image.Image, x: float, y: float, radius: int = 9) -> Image.Image:
    """A copy of image with a black ring at (x, y): where the user clicked."""
    marked = image.copy()
    draw = ImageDraw.Draw(marked)
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline="black", width=3)
    draw.line([(x - radius - 4, y), (x + radius + 4, y)], fill="black", width=1)
    draw.line([(x, y - radius - 4), (x, y + radius + 4)], fill="black", width=1)
    return marked
