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


REAL_COLOUR = (34, 139, 34)  # green: real points, and where D says "real"
FAKE_COLOUR = (128, 60, 170)  # purple: generated points, and where D says "fake"


def decision_background(decision: torch.Tensor, size: int, probability: bool) -> Image.Image:
    """D over the plane as colour: purple where it says fake, white at 0.5 (undecided), green where it says real.
    Critic scores (unbounded) are centred on their median and scaled by their largest deviation."""
    if probability:
        signed = decision * 2 - 1
    else:
        centred = decision - decision.median()
        signed = centred / centred.abs().max().clamp(min=1e-8)
    strength = signed.abs().clamp(max=1).unsqueeze(-1) * 0.55  # pale, so the points stay readable
    colour = torch.where(signed.unsqueeze(-1) >= 0, torch.tensor(REAL_COLOUR), torch.tensor(FAKE_COLOUR)).float()
    rgb = (255 * (1 - strength) + colour * strength).round().byte().numpy()
    return Image.fromarray(rgb, "RGB").resize((size, size), Image.BILINEAR)


def toy_gan_frame(real: torch.Tensor, fake: torch.Tensor, decision: torch.Tensor, extent: float, size: int = 420,
                  probability: bool = True) -> Image.Image:
    """Real (green) and generated (purple) 2-D points over D's decision map, square [-extent, extent]^2."""
    image = decision_background(decision, size, probability)
    draw = ImageDraw.Draw(image)
    draw.line([(size / 2, 0), (size / 2, size)], fill="#d1d5db")
    draw.line([(0, size / 2), (size, size / 2)], fill="#d1d5db")

    def pixels(points: torch.Tensor):
        xy = ((points.clamp(-extent, extent) + extent) / (2 * extent) * (size - 1)).tolist()
        return [(x, size - 1 - y) for x, y in xy]  # y up

    for x, y in pixels(real):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=REAL_COLOUR)
    for x, y in pixels(fake):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), outline=FAKE_COLOUR, width=1)
    return image
