"""Pictures for people (core returns numbers and tensors): crisp upscaled images, grids, colour maps, legends, and
small charts drawn with Pillow (a scatter of 2-D codes that is clicked per pixel, the toy GAN's streamed frames,
heat maps with their values written in)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.datasets import IMAGE_SIZE
from core.lazy import lazy_import
from core.runtime import on_cpu

torch = lazy_import("torch")  # imported on first use: the page is drawn before torch loads (core/lazy.py)


def to_display(x: torch.Tensor | np.ndarray, scale: int = 8) -> Image.Image:
    """A (1, H, W), (H, W) or (1, 1, H, W) image in [0, 1] -> crisp PIL image, upscaled by nearest neighbour."""
    # a tensor is told by its .detach, so that drawing a numpy picture as the page is built needs no torch
    array = x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float64)
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
    if len(images) == 0:
        raise ValueError("A grid needs at least one image.")
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


# --- charts ------------------------------------------------------------------------------------------------------

# Ten colours that stay distinct on a projector (Tableau 10).
CLASS_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


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


def decision_background(decision: torch.Tensor, size: int, probability: bool, strength: float = 0.55) -> Image.Image:
    """D over the plane as colour: purple where it says fake, white at 0.5 (undecided), green where it says real.
    Critic scores (unbounded) are centred on their median and scaled by their largest deviation. strength: the
    colour at a sure verdict (pale by default, so that points drawn over it stay readable; 1 for a map alone)."""
    if probability:
        signed = decision * 2 - 1
    else:
        centred = decision - decision.median()
        signed = centred / centred.abs().max().clamp(min=1e-8)
    strength = signed.abs().clamp(max=1).unsqueeze(-1) * strength
    colour = torch.where(signed.unsqueeze(-1) >= 0, torch.tensor(REAL_COLOUR), torch.tensor(FAKE_COLOUR)).float()
    rgb = (255 * (1 - strength) + colour * strength).round().byte().numpy()
    return Image.fromarray(rgb, "RGB").resize((size, size), Image.BILINEAR)


def toy_gan_frame(
    real: torch.Tensor,
    fake: torch.Tensor,
    decision: torch.Tensor,
    extent: float,
    size: int = 420,
    probability: bool = True,
) -> Image.Image:
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


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


HEAT_COLD, HEAT_HOT = (255, 255, 255), (50, 95, 180)  # white at 0, deep blue at 1


def heat_colour(value: float) -> tuple[int, int, int]:
    """0 -> white, 1 -> deep blue (values outside [0, 1] are clipped)."""
    v = min(max(value, 0.0), 1.0)
    return tuple(round(c + (h - c) * v) for c, h in zip(HEAT_COLD, HEAT_HOT))


def heat_image(values: torch.Tensor, scale: int = 8, vmax: float = 1.0) -> Image.Image:
    """(H, W) values in [0, vmax] -> the heat_colour map as a crisp picture (white 0, deep blue vmax and above),
    upscaled."""
    v = (values.detach().float() / vmax).clamp(0, 1).cpu().unsqueeze(-1)
    cold, hot = torch.tensor(HEAT_COLD, dtype=torch.float32), torch.tensor(HEAT_HOT, dtype=torch.float32)
    rgb = (cold + (hot - cold) * v).round().byte().numpy()
    image = Image.fromarray(rgb, "RGB")
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def similarity_heatmap(
    images: list[Image.Image],
    texts: list[str],
    values,
    cell: int = 72,
    label_width: int = 300,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Image.Image:
    """The CLIP paper's figure: images along the top, texts down the side, each cell coloured and labelled with its
    value (values[i][j] for text i, image j). Colours span [vmin, vmax] (default: the values' own range)."""
    rows, columns = len(texts), len(images)
    flat = [float(v) for row in values for v in row]
    low = min(flat) if vmin is None else vmin
    high = max(flat) if vmax is None else vmax
    canvas = Image.new("RGB", (label_width + columns * cell, cell + rows * cell), "white")
    draw = ImageDraw.Draw(canvas)
    small, label = _font(13), _font(15)
    for j, image in enumerate(images):
        thumbnail = image.convert("RGB").resize((cell - 8, cell - 8), Image.LANCZOS)
        canvas.paste(thumbnail, (label_width + j * cell + 4, 4))
    for i, text in enumerate(texts):
        shown = text if len(text) <= 38 else text[:36] + "…"
        draw.text((label_width - 8, cell + i * cell + cell / 2), shown, fill="black", font=label, anchor="rm")
        best = max(range(columns), key=lambda j: float(values[i][j]))
        for j in range(columns):
            value = float(values[i][j])
            x, y = label_width + j * cell, cell + i * cell
            shade = (value - low) / (high - low) if high > low else 0.5
            draw.rectangle(
                (x + 1, y + 1, x + cell - 1, y + cell - 1),
                fill=heat_colour(shade),
                outline="black" if j == best else None,
                width=2,
            )
            draw.text(
                (x + cell / 2, y + cell / 2),
                f"{value:.2f}",
                fill="white" if shade > 0.6 else "black",
                font=small,
                anchor="mm",
            )
    return canvas


def confusion_heatmap(confusion, class_names: list[str], cell: int = 44, label_width: int = 110) -> Image.Image:
    """Rows: true class; columns: predicted; each cell the count, shaded by its share of the row."""
    n = len(class_names)
    canvas = Image.new("RGB", (label_width + n * cell, label_width + n * cell), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(12)
    draw.text((4, 4), "rows: true class", fill="#555555", font=font)
    draw.text((4, 20), "columns: predicted", fill="#555555", font=font)
    for k, name in enumerate(class_names):
        draw.text((label_width - 6, label_width + k * cell + cell / 2), name, fill="black", font=font, anchor="rm")
        column_label = Image.new("RGBA", (label_width - 6, cell), (255, 255, 255, 0))
        ImageDraw.Draw(column_label).text(
            (4, cell / 2), name, fill="black", font=font, anchor="lm"
        )  # bottom once turned
        rotated = column_label.rotate(90, expand=True)
        canvas.paste(rotated, (label_width + k * cell, 0), rotated)
    for i in range(n):
        total = max(1, int(sum(int(v) for v in confusion[i])))
        for j in range(n):
            count = int(confusion[i][j])
            share = count / total
            x, y = label_width + j * cell, label_width + i * cell
            draw.rectangle((x + 1, y + 1, x + cell - 1, y + cell - 1), fill=heat_colour(share))
            if count:
                draw.text(
                    (x + cell / 2, y + cell / 2),
                    str(count),
                    fill="white" if share > 0.6 else "black",
                    font=font,
                    anchor="mm",
                )
    return canvas


SCHEDULE_COLOURS = ("#4e79a7", "#e15759", "#59a14f")


def schedule_chart(
    curves: dict[str, list[float]],
    marker: int,
    width: int = 520,
    height: int = 260,
    colours: tuple[str, ...] = SCHEDULE_COLOURS,
    legend: bool = True,
    font_size: int = 12,
) -> Image.Image:
    """Curves over t = 1..T on a [0, 1] axis, with a vertical line at t = marker and each curve's value there.
    legend: each curve's name and value at the marker drawn in the chart (False: the page shows the names, in a
    font that has their symbols; Pillow's default has no √ or ᾱ)."""
    margin_left, margin_bottom, margin_top = 3 * font_size + 4, 2 * font_size + 4, font_size
    plot_w, plot_h = width - margin_left - 2 * font_size, height - margin_bottom - margin_top  # room for "1000"
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(font_size)
    total = len(next(iter(curves.values())))

    def point(t: int, value: float) -> tuple[float, float]:
        return (
            margin_left + plot_w * (t - 1) / max(1, total - 1),
            margin_top + plot_h * (1.0 - min(max(value, 0.0), 1.0)),
        )

    draw.rectangle((margin_left, margin_top, margin_left + plot_w, margin_top + plot_h), outline="#999999")
    for value in (0.0, 0.5, 1.0):
        _, y = point(1, value)
        draw.text((margin_left - 6, y), f"{value:g}", fill="black", font=font, anchor="rm")
    for t in (1, total // 4, total // 2, 3 * total // 4, total):
        x, _ = point(t, 0)
        draw.text((x, margin_top + plot_h + 4), f"{t}", fill="black", font=font, anchor="ma")
    mx, _ = point(marker, 0)
    draw.line((mx, margin_top, mx, margin_top + plot_h), fill="#333333", width=1)
    for k, (name, values) in enumerate(curves.items()):
        colour = colours[k % len(colours)]
        draw.line([point(t + 1, v) for t, v in enumerate(values)], fill=colour, width=2)
        x, y = point(marker, values[marker - 1])
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colour)
        if legend:
            draw.text(
                (margin_left + 8, margin_top + 6 + 16 * k), f"{name} = {values[marker - 1]:.3f}", fill=colour, font=font
            )
    return canvas


def named_grid(
    grid: Image.Image,
    columns: list[str],
    rows: list[str] | None = None,
    cell: tuple[int, int] = (0, 0),
    font_size: int = 14,
    header: int = 24,
    row_width: int = 0,
) -> Image.Image:
    """A grid image (image_grid) with a name over each column and, when given, before each row, on a white
    margin: what a projected grid needs so that nobody has to guess what a row or a column is.
    cell: (width, height) of one cell with its gutter, in the grid's pixels."""
    cell_w, cell_h = cell
    left = row_width if rows else 0
    canvas = Image.new("RGB", (left + grid.width, header + grid.height), "white")
    canvas.paste(grid.convert("RGB"), (left, header))
    draw = ImageDraw.Draw(canvas)
    font = _font(font_size)
    for j, name in enumerate(columns):
        draw.text((left + j * cell_w + cell_w / 2, header / 2), name, fill="black", font=font, anchor="mm")
    for i, name in enumerate(rows or []):
        draw.text((left - 6, header + i * cell_h + cell_h / 2), name, fill="black", font=font, anchor="rm")
    return canvas


COLOUR_BAR_PX = 34  # the legend's height under a picture: a bar and a line of labels


def with_colour_bar(
    image: Image.Image, colours: list[tuple[int, int, int]], labels: list[str], height: int = COLOUR_BAR_PX
) -> Image.Image:
    """The picture with its legend under it: a bar running through `colours` from left to right, and `labels`
    spread evenly beneath it (the first at the left end, the last at the right). Pillow's default font has no
    mathematical signs (−, ≥): labels in plain ASCII."""
    width = image.width
    bar_height = max(8, height // 3)
    canvas = Image.new("RGB", (width, image.height + height), "white")
    canvas.paste(image, (0, 0))
    stops = torch.tensor(colours, dtype=torch.float32)
    position = torch.linspace(0, len(colours) - 1, width)
    low = (
        position.floor().long().clamp(max=len(colours) - 2)
        if len(colours) > 1
        else torch.zeros(width, dtype=torch.long)
    )
    fraction = (position - low).unsqueeze(-1)
    row = stops[low] if len(colours) == 1 else stops[low] * (1 - fraction) + stops[low + 1] * fraction
    bar = row.round().byte().unsqueeze(0).expand(bar_height, -1, -1).contiguous().numpy()
    canvas.paste(Image.fromarray(bar, "RGB"), (0, image.height + 2))
    draw = ImageDraw.Draw(canvas)
    font = _font(max(10, height - bar_height - 8))
    top = image.height + bar_height + 3
    for i, label in enumerate(labels):
        text_width = draw.textlength(label, font=font)
        x = (
            0
            if i == 0
            else width - text_width
            if i == len(labels) - 1
            else i * width / (len(labels) - 1) - text_width / 2
        )
        draw.text((x, top), label, fill="#111827", font=font)
    return canvas
