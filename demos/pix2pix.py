"""pix2pix tab: draw (or pick) edges, get a garment or a colour emoji back; L1 alone beside L1 + cGAN."""

from __future__ import annotations

import math

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from core import catalog
from core.checkpoints import CheckpointError, read_card
from core.emoji import load_emoji_sample
from core.lazy import lazy_import
from demos import common
from demos.errors import friendly_errors
from demos.render import FAKE_COLOUR, REAL_COLOUR, decision_background, image_grid, to_display, with_colour_bar

torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")
pix2pix = lazy_import("core.pix2pix")
metrics = lazy_import("core.metrics")

PICTURES_LABEL = "Held-out pictures (never trained on): click one, its Canny edges go in"
DRAWINGS_LABEL = "Drawings to try: click one"
DATASET_CHOICES = [
    ("Garments (Fashion-MNIST, 28 px, grey)", "fashion"),
    ("Emoji (Noto Color Emoji, 64 px, colour)", "emoji"),
]
KIND_CHOICES = [
    ("Tell by itself", "auto"),
    ("A drawing: thin its strokes", "drawing"),
    ("A picture: run Canny on it", "picture"),
]
DISPLAY_SIZE = 256  # both data sets shown at the same size: 28 px x 9 (nearest), 64 px x 4
EMOJI_EXAMPLES = 15
COMPARISON_COLUMNS = 8

INTRO = r"""
## pix2pix: an image as the condition
A conditional GAN whose condition is a whole image x: here an **edge map**, and the output is the picture y it
came from (Isola et al. 2017).

Pairs are synthesised, as the lecture says: $x$ = Canny edges of a real picture $y$.

- **G** is a U-Net: an encoder down to 1×1 and a decoder back up, with skip connections that carry *where the
  edges are* straight across. **D** is a PatchGAN: it sees the pair (x, y) and says real or fake for each patch.
- $\mathcal{L}_{cGAN}(G, D) = \mathbb{E}[\log D(x, y)] + \mathbb{E}[\log(1 - D(x, G(x, z)))]$,
  $\mathcal{L}_{L1}(G) = \mathbb{E}\lVert y - G(x, z) \rVert_1$, and
  $G^* = \arg\min_G \max_D \mathcal{L}_{cGAN}(G, D) + \lambda \mathcal{L}_{L1}(G)$ with $\lambda = 100$.
- **L1 only** (trained without D) gets the layout right but averages what it cannot be sure of: a blur.
  The cGAN term punishes anything D can tell from a real patch. Both are shown for the same input.

Draw with the mouse (your strokes are framed and thinned to one-pixel lines, like Canny's), pick a held-out picture
(never seen in training: its edges go in), or upload one.
"""


def parse_dataset(value) -> str:
    if value not in catalog.PIX2PIX_DATASETS:
        raise ValueError(f"The model must be one of {sorted(catalog.PIX2PIX_DATASETS)}, not {value!r}.")
    return value


def show(images: torch.Tensor) -> Image.Image:
    """(1, C, S, S) in [0, 1] -> a crisp PIL image about DISPLAY_SIZE wide."""
    return to_display(images[0], scale=max(1, DISPLAY_SIZE // images.shape[-1]))


def show_edges(edges: torch.Tensor) -> Image.Image:
    """Edges as a sketch: dark lines on white."""
    return show(1 - edges)


def show_patch_verdict(realness: torch.Tensor, model: pix2pix.Pix2Pix) -> Image.Image:
    """D's per-patch probabilities (1, 1, P, P) as colour over the picture's own frame: green 'real', white
    undecided, purple 'fake'. The patches overlap, so the map is spread over the network's input size (bilinear)
    and the padding around a 28 px garment is cut off again."""
    spread = F.interpolate(realness, size=(model.size, model.size), mode="bilinear", align_corners=False)
    side = model.data.size * max(1, DISPLAY_SIZE // model.data.size)  # the pictures' displayed size
    verdict = decision_background(model.from_model(spread * 2 - 1)[0, 0], side, probability=True, strength=1.0)
    return with_colour_bar(verdict, [FAKE_COLOUR, (255, 255, 255), REAL_COLOUR], ["fake", "D(x, y) = 0.5", "real"])


@friendly_errors
def translate(image, dataset: str = "fashion", kind: str = "auto"):
    """Image or drawing, model ('fashion' or 'emoji'), input kind -> (edge map G reads, L1 + cGAN picture,
    L1-only picture, D's per-patch verdict on the L1 + cGAN picture, a note). A missing model leaves its picture
    empty and says how to rebuild it."""
    data = pix2pix.PAIRED_SETS[parse_dataset(dataset)]
    given = pix2pix.input_edges(common.drawing_image(image), data, kind)  # an upload, an example or a drawing
    models, missing = available_models(data.name)
    with torch.inference_mode():
        outputs = {objective: model.translate(given.edges) for objective, model in models.items()}
        verdict = models["l1+cgan"].patch_realness(given.edges, outputs["l1+cgan"]) if "l1+cgan" in models else None
    lines = [
        f"Read as **{given.kind}**: "
        + (
            "strokes thinned to their centre lines, framed like the data, one pixel wide."
            if given.picture is None
            else f"Canny edges (σ = {data.canny_sigma}) of the framed picture."
        )
    ]
    if given.picture is not None:  # the picture itself is the ground truth y: how close does each model come?
        for objective, output in outputs.items():
            lines.append(
                f"- {objective.upper()}: L1 {pix2pix.l1_loss(given.picture, output).item():.3f}, "
                f"SSIM {metrics.ssim(output, given.picture).item():.3f} against the picture"
            )
    if len(outputs) == 2:  # what L1 alone averages away: texture for grey garments, colour for the emoji
        name, measure = (
            ("Colourfulness (mean saturation of the object)", metrics.colourfulness)
            if data.channels == 3
            else ("Sharpness (mean difference of neighbouring pixels)", metrics.sharpness)
        )
        values = " · ".join(f"{objective.upper()} {measure(output):.3f}" for objective, output in outputs.items())
        real = f" · the picture {measure(given.picture):.3f}" if given.picture is not None else ""
        lines.append(f"{name}: {values}{real}.")
    if verdict is not None:
        lines.append(
            f"D calls {verdict.gt(0.5).float().mean().item():.0%} of the patches of the L1 + cGAN picture real "
            f"(mean D = {verdict.mean().item():.2f})."
        )
    lines += [f"*{message}*" for message in missing]
    return (
        show_edges(given.edges),
        show(outputs["l1+cgan"]) if "l1+cgan" in outputs else None,
        show(outputs["l1"]) if "l1" in outputs else None,
        show_patch_verdict(verdict, models["l1+cgan"]) if verdict is not None else None,
        "\n".join(lines),
    )


def available_models(dataset: str) -> tuple[dict[str, pix2pix.Pix2Pix], list[str]]:
    """The data set's shipped models by objective, and the messages of those that are missing (at least one loads)."""
    models, missing = {}, []
    for objective in catalog.PIX2PIX_OBJECTIVES:
        try:
            models[objective] = pix2pix.load(dataset, objective)
        except CheckpointError as error:
            missing.append(str(error))
    if not models:
        raise CheckpointError(" ".join(missing))
    return models, missing


def translate_drawing(drawing, dataset: str):
    return translate(drawing, dataset, "drawing")


# --- held-out pictures and drawings to start from (inputs, drawn with Pillow: the outputs always come from G) -----


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360) -> list:
    """Points along an ellipse's arc from `start` to `end` degrees (0 = right, 90 = down, as Pillow draws)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in range(int(start), int(end) + 1, 6)
    ]


def _outline_drawings() -> dict[str, dict[str, list]]:
    """Per data set: named drawings as lists of strokes, each a list of (x, y) points on a 256 x 256 canvas."""
    return {
        "fashion": {
            "sneaker": [
                [(16, 190), (240, 190), (240, 160), (170, 140), (120, 100), (70, 100), (16, 160), (16, 190)],
                [(16, 175), (240, 175)],
            ],
            "ankle boot": [
                [(40, 236), (236, 236), (236, 200), (150, 170), (140, 30), (60, 30), (60, 150), (40, 200), (40, 236)]
            ],
            "t-shirt": [
                [
                    (80, 20),
                    (105, 30),
                    (151, 30),
                    (176, 20),
                    (236, 60),
                    (214, 96),
                    (192, 84),
                    (192, 236),
                    (64, 236),
                    (64, 84),
                    (42, 96),
                    (20, 60),
                    (80, 20),
                ]
            ],  # short sleeves, a long body
            "trousers": [[(70, 16), (186, 16), (200, 240), (150, 240), (128, 80), (106, 240), (56, 240), (70, 16)]],
            "bag": [[(30, 90), (226, 90), (236, 236), (20, 236), (30, 90)], [(80, 90), (90, 30), (166, 30), (176, 90)]],
        },
        "emoji": {
            "smiley": [
                _ellipse(128, 128, 110, 110),
                _ellipse(92, 102, 12, 22),
                _ellipse(164, 102, 12, 22),
                _ellipse(128, 160, 58, 40, start=0, end=180) + [(186, 160)],
            ],  # an open mouth
            "heart": [
                [
                    (128, 230),
                    (30, 120),
                    (30, 70),
                    (60, 35),
                    (100, 35),
                    (128, 70),
                    (156, 35),
                    (196, 35),
                    (226, 70),
                    (226, 120),
                    (128, 230),
                ]
            ],
            "star": [
                [
                    (128 + r * math.sin(k * math.pi / 5), 135 - r * math.cos(k * math.pi / 5))
                    for k, r in zip(range(11), [115, 45] * 5 + [115])
                ]
            ],
            "house": [
                [(40, 120), (128, 30), (216, 120)],
                [(60, 105), (60, 230), (196, 230), (196, 105)],
                [(110, 230), (110, 170), (146, 170), (146, 230)],
            ],
        },
    }


def example_drawings(dataset: str) -> dict[str, Image.Image]:
    """Line drawings like a user's (dark strokes on white, 256 x 256) for the 'drawings to try' gallery."""
    drawings = {}
    for name, strokes in _outline_drawings()[dataset].items():
        canvas = Image.new("RGB", (256, 256), "white")
        draw = ImageDraw.Draw(canvas)
        for stroke in strokes:
            draw.line(stroke, fill="black", width=6, joint="curve")
        drawings[name] = canvas
    return drawings


def held_out_pictures(dataset: str) -> list[tuple[np.ndarray, str]]:
    """(picture as uint8 array, caption) for the example gallery: never seen by the recipes."""
    if parse_dataset(dataset) == "fashion":
        return common.garment_examples()
    emoji = load_emoji_sample()
    step = max(1, len(emoji) // EMOJI_EXAMPLES)
    return [(emoji.images[i], emoji.names[i]) for i in range(0, step * EMOJI_EXAMPLES, step)][:EMOJI_EXAMPLES]


def drawings_to_try(dataset: str) -> list[tuple[Image.Image, str]]:
    return [(image, name) for name, image in example_drawings(parse_dataset(dataset)).items()]


@friendly_errors
def compare_held_out(dataset: str = "fashion"):
    """The paper's comparison on held-out pairs: rows edges x, L1 only, L1 + cGAN, the real y (a missing model's row
    is left out)."""
    data = pix2pix.PAIRED_SETS[parse_dataset(dataset)]
    pictures = torch.cat(
        [pix2pix.picture_from_image(image, data) for image, _ in held_out_pictures(dataset)[:COMPARISON_COLUMNS]]
    )
    edges = pix2pix.edges_of_pictures(pictures, data)
    models, missing = available_models(data.name)
    with torch.inference_mode():
        rows = [1 - edges.expand(-1, data.channels, -1, -1)]
        rows += [models[objective].translate(edges) for objective in ("l1", "l1+cgan") if objective in models]
    grid = image_grid(torch.cat(rows + [pictures]), columns=len(pictures), scale=max(2, 128 // data.size))
    names = (
        ["the edges x (Canny)"]
        + [name for objective, name in (("l1", "L1 only"), ("l1+cgan", "L1 + cGAN")) if objective in models]
        + ["the real picture y"]
    )
    return grid, "Rows: " + " · ".join(names) + "." + "".join(f" *{message}*" for message in missing)


def picked(items: list, index) -> object:
    """The gallery item at a clicked index (the galleries change with the model: a stale click gets a message)."""
    if not isinstance(index, int) or not 0 <= index < len(items):
        raise ValueError("The examples are changing with the model: click again.")
    return items[index][0]


def refresh_examples(dataset: str):
    return held_out_pictures(dataset), drawings_to_try(dataset)


def measured_table() -> list[list]:
    """The cards' held-out figures for every shipped pix2pix model."""
    rows = []
    for (_dataset, objective), name in catalog.PIX2PIX_CHECKPOINTS.items():
        try:
            figures = read_card(name).get("metrics", {})
        except CheckpointError:
            rows.append([name, "missing", "", "", ""])
            continue
        agreement = figures.get("classifier_reads_output_as_true_class")
        rows.append(
            [
                name,
                figures.get("objective", objective),
                figures.get("test_l1"),
                figures.get("test_ssim"),
                "–" if agreement is None else f"{agreement:.0%}",
            ]
        )
    return rows


def build(tab: gr.Tab) -> None:
    common.intro(INTRO)
    common.checkpoint_notice(catalog.PIX2PIX_CHECKPOINTS.values())
    with gr.Row():
        with gr.Column(scale=1):
            dataset = gr.Radio(DATASET_CHOICES, value="fashion", label="Model (data set)")
            with gr.Tabs():
                with gr.Tab("Draw"):
                    drawing = common.sketchpad("Draw an outline")
                    draw_button = gr.Button("Translate the drawing", variant="primary")
                with gr.Tab("Pictures"):
                    pictures = common.picker_gallery(
                        held_out_pictures("fashion"), PICTURES_LABEL, 5, 300, "pix2pix-pictures"
                    )
                with gr.Tab("Drawings"):
                    drawings = common.picker_gallery(
                        drawings_to_try("fashion"), DRAWINGS_LABEL, 5, 200, "pix2pix-drawings"
                    )
                with gr.Tab("Upload"):
                    upload = common.image_input("A picture or a line drawing")
                    kind = gr.Radio(KIND_CHOICES, value="auto", label="Read it as")
                    upload_button = gr.Button("Translate", variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                edges = common.output_image("x: the edges G reads", elem_id="pix2pix-edges", height=280)
                photo = common.output_image("G(x) with L1 + cGAN", elem_id="pix2pix-photo", height=280)
            with gr.Row():
                blurry = common.output_image("G(x) with L1 only", elem_id="pix2pix-l1", height=280)
                verdict = common.output_image(
                    "D per patch: green real, purple fake", elem_id="pix2pix-patches", height=280
                )
            note = gr.Markdown()
    gr.Markdown("### The paper's comparison, on held-out pictures")
    with gr.Row():
        compare_button = gr.Button("Compare L1 only with L1 + cGAN on 8 held-out pictures")
        gr.Dataframe(
            measured_table(),
            headers=["checkpoint", "objective", "L1", "SSIM", "class kept"],
            label="Held-out pairs, measured at the end of training (cards); class kept: the classifier "
            "reads G(x) as the original's class",
            interactive=False,
        )
    comparison = common.output_image("Edges · L1 only · L1 + cGAN · real", elem_id="pix2pix-comparison", height=460)
    comparison_note = gr.Markdown()

    outputs = [edges, photo, blurry, verdict, note]
    draw_button.click(translate_drawing, [drawing, dataset], outputs, **common.private("pix2pix_drawing"))
    upload_button.click(translate, [upload, dataset, kind], outputs, api_name="pix2pix")

    @friendly_errors
    def pick_picture(dataset_value, evt: gr.SelectData):
        return translate(picked(held_out_pictures(dataset_value), evt.index), dataset_value, "picture")

    @friendly_errors
    def pick_drawing(dataset_value, evt: gr.SelectData):
        return translate(picked(drawings_to_try(dataset_value), evt.index), dataset_value, "drawing")

    pictures.select(pick_picture, dataset, outputs, **common.private("pix2pix_pick_picture"))
    drawings.select(pick_drawing, dataset, outputs, **common.private("pix2pix_pick_drawing"))
    dataset.input(refresh_examples, dataset, [pictures, drawings], **common.private("pix2pix_dataset")).then(
        compare_held_out, dataset, [comparison, comparison_note], **common.private("pix2pix_dataset_compare")
    )
    compare_button.click(compare_held_out, dataset, [comparison, comparison_note], **common.private("pix2pix_compare"))

    @friendly_errors
    def first_picture(dataset_value):
        return translate(picked(held_out_pictures(dataset_value), 0), dataset_value, "picture")

    tab.select(first_picture, dataset, outputs, **common.private("pix2pix_open")).then(
        compare_held_out, dataset, [comparison, comparison_note], **common.private("pix2pix_open_compare")
    )


def warm_up() -> None:
    """Load the four pix2pix models and the comparisons the tab opens on."""
    compare_held_out("fashion")
    compare_held_out("emoji")
