"""pix2pix: the U-Net and PatchGAN, edge maps and sketch preprocessing, the bundled models against the issue's
claims (L1 + cGAN sharper than L1 alone), the tab's handlers with bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core import pix2pix
from core.blocks import PatchDiscriminator, UNetGenerator
from core.datasets import FASHION_CLASSES
from core.edges import edge_map, is_line_drawing, sketch_to_edges
from core.emoji import load_emoji_sample
from core.images import EmptyImageError
from core.metrics import classifier_outputs, colourfulness, load_classifier, sharpness
from demos import pix2pix as tab
from demos.render import COLOUR_BAR_PX

FASHION, EMOJI = pix2pix.PAIRED_SETS["fashion"], pix2pix.PAIRED_SETS["emoji"]


# --- the networks ------------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_unet_keeps_the_size_and_rejects_other_sizes():
    g = UNetGenerator(32, 1, 3, 8, 32).eval()
    assert g(torch.randn(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="power-of-two"):
        UNetGenerator(28, 1, 1, 8, 32)


@pytest.mark.fast
def test_unet_skip_connections_carry_the_input_to_the_output_without_the_bottleneck():
    # With the bottleneck cut (innermost encoder output zeroed), the output still depends on the input:
    # the outermost skip connection carries it.
    g = UNetGenerator(16, 1, 1, 8, 32).eval()
    g.down[-1].register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))
    x = torch.zeros(1, 1, 16, 16)
    y = x.clone()
    y[..., 4, 4] = 1
    assert not torch.allclose(g(x), g(y))


@pytest.mark.fast
@pytest.mark.parametrize("layers, field", [(1, 16), (2, 34), (3, 70)])
def test_patchgan_logit_sees_a_patch_of_the_documented_size(layers, field):
    d = PatchDiscriminator(1, 4, layers).eval()
    x = torch.zeros(1, 1, 128, 128, requires_grad=True)
    logits = d(x)
    logits[0, 0, logits.shape[2] // 2, logits.shape[3] // 2].backward()
    rows, cols = np.nonzero(x.grad[0, 0].abs().numpy() > 0)
    assert rows.max() - rows.min() + 1 <= field and cols.max() - cols.min() + 1 <= field
    assert rows.max() - rows.min() + 1 >= field - 4  # and not much less (zero weights at the border aside)


@pytest.mark.fast
def test_l1_loss_is_the_mean_absolute_error():
    y, y_hat = torch.tensor([0.0, 1.0, 0.5]), torch.tensor([1.0, 1.0, 0.0])
    assert pix2pix.l1_loss(y, y_hat).item() == pytest.approx(0.5)


@pytest.mark.fast
def test_generator_objective_is_non_saturating_cgan_plus_lambda_l1():
    y, y_hat = torch.zeros(1, 1, 2, 2), torch.tensor([[[[0.5, 0.0], [0.0, 0.5]]]])  # L1 = 0.25
    fake_logits = torch.tensor([0.0, math.log(3)])  # D(x, G(x)) = 1/2 and 3/4
    adversarial = (math.log(2) + math.log(4 / 3)) / 2  # −log D, averaged over the patches
    objective = pix2pix.generator_objective(fake_logits, y, y_hat, lambda_l1=100.0)
    assert objective.adversarial.item() == pytest.approx(adversarial, rel=1e-6)
    assert objective.l1.item() == pytest.approx(0.25)
    assert objective.total.item() == pytest.approx(adversarial + 25.0, rel=1e-6)
    l1_only = pix2pix.generator_objective(None, y, y_hat, lambda_l1=10.0)  # the L1-only model: no D
    assert l1_only.adversarial.item() == 0 and l1_only.total.item() == pytest.approx(2.5)


@pytest.mark.fast
def test_discriminator_objective_is_half_the_gan_discriminator_loss():
    real_logits, fake_logits = torch.tensor([math.log(3)]), torch.tensor([-math.log(3)])  # D = 3/4 on real, 1/4 on fake
    expected = 0.5 * (-math.log(3 / 4) - math.log(1 - 1 / 4))
    assert pix2pix.discriminator_objective(real_logits, fake_logits).item() == pytest.approx(expected, rel=1e-6)
    perfect = pix2pix.discriminator_objective(torch.tensor([30.0]), torch.tensor([-30.0]))  # D sure and right
    assert perfect.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.fast
def test_models_map_edges_to_pictures_of_the_data_size_and_check_shapes():
    for data in (FASHION, EMOJI):
        model = pix2pix.Pix2Pix(pix2pix.Pix2PixConfig(dataset=data.name, base_channels=8, max_channels=16)).eval()
        edges = torch.zeros(2, 1, data.size, data.size)
        out = model.translate(edges)
        assert out.shape == (2, data.channels, data.size, data.size)
        assert model.patch_realness(edges, out).shape[:2] == (2, 1)
        with pytest.raises(ValueError, match="Expected edge maps"):
            model.translate(torch.zeros(1, 3, data.size, data.size))
    assert pix2pix.Pix2Pix(pix2pix.Pix2PixConfig(objective="l1")).discriminator is None
    with pytest.raises(ValueError):
        pix2pix.Pix2Pix(pix2pix.Pix2PixConfig(dataset="faces"))


# --- edges and drawings ------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_canny_finds_the_outline_of_a_square_and_nothing_in_a_flat_image():
    image = torch.zeros(1, 1, 28, 28)
    image[..., 8:20, 8:20] = 1
    edges = edge_map(image, sigma=1.0)[0, 0]
    assert edges[14, 5:11].sum() >= 1 and edges[14, 17:23].sum() >= 1  # both vertical sides
    assert edges[12:16, 12:16].sum() == 0 and edges[:3].sum() == 0  # not inside, not far outside
    assert edge_map(torch.full((1, 3, 16, 16), 0.5), sigma=1.0).sum() == 0


def draw_outline(size=256, width=14, ink=(0, 0, 0, 255), background=(0, 0, 0, 0)):
    canvas = Image.new("RGBA", (size, size), background)
    ImageDraw.Draw(canvas).rectangle((40, 60, 200, 180), outline=ink, width=width)
    return canvas


@pytest.mark.fast
def test_a_sketchpad_drawing_becomes_one_pixel_lines_framed_like_the_data():
    edges = sketch_to_edges(np.asarray(draw_outline()), FASHION.size, FASHION.margin)[0, 0].numpy()
    assert edges.shape == (28, 28) and set(np.unique(edges)) <= {0.0, 1.0}
    cols = np.flatnonzero(edges.any(axis=0))
    assert cols.max() - cols.min() + 1 >= 26  # the longer side fills the frame, as Fashion-MNIST's garments do
    # one pixel wide: no 2 x 2 block is fully inked
    blocks = edges[:-1, :-1] * edges[1:, :-1] * edges[:-1, 1:] * edges[1:, 1:]
    assert blocks.sum() == 0


@pytest.mark.fast
def test_line_width_and_polarity_of_a_drawing_do_not_matter():
    thin = sketch_to_edges(draw_outline(width=6), EMOJI.size, EMOJI.margin)
    thick = sketch_to_edges(draw_outline(width=24), EMOJI.size, EMOJI.margin)
    light_on_dark = sketch_to_edges(
        draw_outline(ink=(255, 255, 255, 255), background=(0, 0, 0, 255)), EMOJI.size, EMOJI.margin
    )
    dark_on_light = sketch_to_edges(draw_outline(background=(255, 255, 255, 255)), EMOJI.size, EMOJI.margin)
    assert torch.equal(light_on_dark, dark_on_light)

    # the same rectangle within a pixel, whatever the pen: each line pixel of one lies next to a line pixel of the other
    def near(a, b):
        return (a * torch.nn.functional.max_pool2d(b, 3, stride=1, padding=1)).sum() / a.sum()

    assert near(thin, thick) >= 0.95 and near(thick, thin) >= 0.95


@pytest.mark.fast
def test_empty_and_blank_inputs_get_a_clear_message():
    with pytest.raises(EmptyImageError):
        sketch_to_edges(np.zeros((64, 64, 4), dtype=np.uint8), 28, 0)  # an untouched Sketchpad
    with pytest.raises(EmptyImageError):
        pix2pix.input_edges(np.full((64, 64, 3), 255, dtype=np.uint8), EMOJI, "picture")
    with pytest.raises(ValueError, match="input kind"):
        pix2pix.input_edges(draw_outline(), FASHION, "photo")


def test_drawings_and_pictures_are_told_apart(sample):
    assert is_line_drawing(np.asarray(draw_outline().getchannel("A"), dtype=float) / 255)
    assert not is_line_drawing(sample.images[0] / 255.0)
    for data in (FASHION, EMOJI):
        for image in tab.example_drawings(data.name).values():
            assert pix2pix.input_edges(image, data).kind == "drawing"
    assert pix2pix.input_edges(load_emoji_sample().images[0], EMOJI).kind == "picture"
    assert pix2pix.input_edges(sample.images[0], FASHION).kind == "picture"


@pytest.mark.fast
def test_held_out_emoji_are_taken_as_they_are_and_others_framed_like_them():
    emoji = load_emoji_sample()
    assert torch.equal(pix2pix.picture_from_image(emoji.images[5], EMOJI), emoji.tensors()[5:6])
    bigger = Image.fromarray(emoji.images[5]).resize((192, 192), Image.LANCZOS)  # the same emoji, three times larger
    assert (pix2pix.picture_from_image(bigger, EMOJI) - emoji.tensors()[5:6]).abs().mean() < 0.03
    odd = Image.fromarray(emoji.images[5]).convert("P").resize((300, 170))  # palette mode, not square
    assert pix2pix.picture_from_image(odd, EMOJI).shape == (1, 3, 64, 64)


@pytest.mark.fast
def test_a_jpeg_of_an_enlarged_emoji_is_framed_like_the_original():
    import io

    emoji = load_emoji_sample()
    for i in range(0, 140, 20):
        buffer = io.BytesIO()
        Image.fromarray(emoji.images[i]).resize((256, 256), Image.LANCZOS).save(buffer, "JPEG", quality=70)
        buffer.seek(0)
        framed = pix2pix.picture_from_image(Image.open(buffer), EMOJI)
        assert (framed - emoji.tensors()[i : i + 1]).abs().mean() < 0.035, emoji.names[i]


@pytest.mark.fast
def test_a_photo_on_a_coloured_background_gets_no_false_frame():
    photo = np.full((120, 90, 3), (40, 90, 160), np.uint8)  # a blue background
    photo[30:90, 20:70] = (250, 200, 30)  # a yellow object
    edges = pix2pix.input_edges(photo, EMOJI, "picture").edges[0, 0]
    # the object (taller than wide) fills the frame's height; a false frame would also draw lines at the sides
    assert edges[:, :5].sum() == 0 and edges[:, -5:].sum() == 0
    assert edges.sum() > 150


@pytest.mark.fast
@pytest.mark.parametrize(
    "make",
    [
        lambda: np.asarray(
            draw_outline()
        ),  # a Sketchpad's composite (the tab takes it out of the value): an RGBA array
        lambda: np.asarray(draw_outline().getchannel("A")) > 0,  # a 1-bit drawing as a bool array
        lambda: np.asarray(draw_outline().getchannel("A")).astype(np.uint16) * 257,  # 16-bit
        lambda: Image.fromarray(np.asarray(draw_outline().getchannel("A")).astype(np.uint16) * 257),  # PIL I;16
        lambda: draw_outline(background=(255, 255, 255, 255)).convert("P"),  # palette
        lambda: draw_outline(background=(255, 255, 255, 255)).convert("CMYK"),
    ],
)
def test_drawings_in_any_mode_and_depth_give_the_same_edges(make):
    reference = pix2pix.input_edges(draw_outline(), FASHION, "drawing").edges
    assert torch.equal(pix2pix.input_edges(make(), FASHION, "drawing").edges, reference)


def test_diagonal_strokes_and_huge_or_strip_images_are_handled():
    canvas = Image.new("L", (256, 256), 255)
    ImageDraw.Draw(canvas).line([(20, 230), (128, 20), (236, 230), (20, 230)], fill=0, width=9)  # a triangle
    edges = pix2pix.input_edges(canvas, EMOJI, "drawing").edges[0, 0].numpy()
    blocks = edges[:-1, :-1] * edges[1:, :-1] * edges[:-1, 1:] * edges[1:, 1:]
    assert blocks.sum() == 0 and edges.sum() > 100  # one pixel wide and all three sides there
    strip = np.zeros((600, 30000, 3), np.uint8)  # shrunk to 1024 x 20 before anything else
    strip[100:500, 1000:29000] = 200
    assert pix2pix.input_edges(strip, EMOJI, "picture").edges.shape == (1, 1, 64, 64)
    huge = Image.new("RGB", (6000, 6000), "white")
    ImageDraw.Draw(huge).ellipse((1000, 1000, 5000, 5000), outline="black", width=60)
    assert pix2pix.input_edges(huge, FASHION).kind == "drawing"


# --- the bundled models: held-out pairs of the bundled samples (never trained on) ---------------------------------


@pytest.fixture(scope="module")
def held_out(sample_tensors):
    """Per data set: (pictures y, edges x, {objective: G(x)}) on the bundled held-out images."""
    pairs = {}
    for data, pictures in ((FASHION, sample_tensors[0]), (EMOJI, load_emoji_sample().tensors())):
        edges = pix2pix.edges_of_pictures(pictures, data)
        with torch.inference_mode():
            outputs = {
                objective: pix2pix.load(data.name, objective).translate(edges) for objective in pix2pix.OBJECTIVES
            }
        pairs[data.name] = (pictures, edges, outputs)
    return pairs


@pytest.mark.parametrize("dataset", ["fashion", "emoji"])
def test_both_models_come_much_closer_than_the_average_picture(held_out, dataset):
    pictures, _, outputs = held_out[dataset]
    baseline = pix2pix.l1_loss(pictures, pictures.mean(dim=0, keepdim=True).expand_as(pictures)).item()
    for objective, output in outputs.items():
        assert pix2pix.l1_loss(pictures, output).item() < 0.6 * baseline, objective


@pytest.mark.parametrize("dataset, detail", [("fashion", sharpness), ("emoji", colourfulness)])
def test_l1_alone_averages_detail_away_and_the_cgan_term_brings_it_back(held_out, dataset, detail):
    # The paper's comparison: L1 alone averages what it is unsure of. For grey garments that is fine texture
    # (sharpness); for emoji it is colour: an uncertain red-or-green averages to brown (colourfulness).
    pictures, _, outputs = held_out[dataset]
    real, cgan, l1_only = detail(pictures), detail(outputs["l1+cgan"]), detail(outputs["l1"])
    assert l1_only < real
    assert abs(cgan - real) < abs(l1_only - real)


def test_the_classifier_reads_translated_garments_as_their_class(held_out, sample_tensors):
    _, labels = sample_tensors
    _, _, outputs = held_out["fashion"]
    predicted = classifier_outputs(load_classifier(), outputs["l1+cgan"])[1]
    assert (predicted == labels).float().mean().item() >= 0.75


def test_the_drawings_offered_to_try_work():
    names = {
        "sneaker": "Sneaker",
        "ankle boot": "Ankle boot",
        "t-shirt": "T-shirt/top",
        "trousers": "Trouser",
        "bag": "Bag",
    }
    model = pix2pix.load("fashion")
    classifier = load_classifier()
    for name, drawing in tab.example_drawings("fashion").items():
        edges = pix2pix.input_edges(drawing, FASHION).edges
        with torch.inference_mode():
            predicted = classifier_outputs(classifier, model.translate(edges))[1].item()
        assert FASHION_CLASSES[predicted] == names[name], name


# --- the tab's handlers ----------------------------------------------------------------------------------------


def test_a_drawing_comes_back_as_a_picture_from_both_models():
    edges, photo, blurry, verdict, note = tab.translate(np.asarray(draw_outline()), "emoji", "drawing")
    assert edges.size == photo.size == blurry.size == (256, 256) and verdict.size == (256, 256 + COLOUR_BAR_PX)
    assert photo.mode == "RGB" and np.asarray(photo).std() > 5
    assert "drawing" in note and "patches" in note


def test_a_held_out_picture_is_scored_against_itself():
    *_, note = tab.translate(tab.held_out_pictures("fashion")[1][0], "fashion", "auto")
    assert "Read as **picture**" in note and note.count("SSIM") == 2


@pytest.mark.fast
@pytest.mark.parametrize(
    "args, message",
    [
        ((None, "fashion"), "No image"),
        ((np.zeros((80, 80, 4), np.uint8), "fashion", "drawing"), "transparent"),
        ((np.zeros((8, 8, 3), np.uint8), "faces"), "model must be"),
        ((np.zeros((8, 8, 3), np.uint8), "emoji", "photo"), "input kind"),
    ],
)
def test_bad_input_gets_a_clear_message(args, message):
    import gradio as gr

    with pytest.raises(gr.Error, match=message):
        tab.translate(*args)


@pytest.mark.fast
def test_missing_checkpoints_name_the_command(empty_checkpoints):
    import gradio as gr

    with pytest.raises(
        gr.Error, match="python -m core.train pix2pix_fashion`.*python -m core.train pix2pix_fashion_l1`"
    ):
        tab.translate(np.asarray(draw_outline()), "fashion", "drawing")
    with pytest.raises(gr.Error, match="python -m core.train pix2pix_emoji_l1"):
        tab.compare_held_out("emoji")


def test_one_missing_model_leaves_its_picture_empty_and_says_so(tmp_path, monkeypatch):
    import shutil

    from core.checkpoints import checkpoint_path
    from core.runtime import MODELS

    shutil.copytree(checkpoint_path("pix2pix_fashion"), tmp_path / "pix2pix_fashion")
    monkeypatch.setenv("GENMODELS_CHECKPOINTS", str(tmp_path))
    MODELS.clear()
    try:
        _edges, photo, blurry, verdict, note = tab.translate(np.asarray(draw_outline()), "fashion", "drawing")
        _grid, grid_note = tab.compare_held_out("fashion")
    finally:
        MODELS.clear()
    assert photo is not None and verdict is not None and blurry is None
    assert "pix2pix_fashion_l1" in note and "L1 only" not in grid_note.split("*")[0]


def test_the_comparison_grid_has_four_rows_of_eight():
    grid, note = tab.compare_held_out("emoji")
    rows, columns = 4, tab.COMPARISON_COLUMNS
    scale = max(2, 128 // EMOJI.size)
    assert grid.size == (scale * (columns * 65 + 1), scale * (rows * 65 + 1))
    assert "L1 only" in note


@pytest.mark.fast
def test_shifting_emoji_pairs_moves_edges_and_picture_together():
    from core.train.augment import mirror, shift

    pictures = load_emoji_sample().tensors()[:8]
    edges = pix2pix.edges_of_pictures(pictures, EMOJI)
    generator = torch.Generator().manual_seed(3)
    moved_edges, moved_pictures = shift(
        *mirror(edges, pictures, generator=generator), max_shift=EMOJI.margin, generator=generator
    )
    # one offset and the same mirroring for both: each picture's edges moved exactly as the picture did
    assert not torch.equal(moved_pictures, pictures)
    for i in range(len(pictures)):
        matches = [
            (flip, dy, dx)
            for flip in (False, True)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(moved_pictures[i], (pictures[i].flip(-1) if flip else pictures[i]).roll((dy, dx), (-2, -1)))
        ]
        assert matches
        assert any(
            torch.equal(moved_edges[i], (edges[i].flip(-1) if flip else edges[i]).roll((dy, dx), (-2, -1)))
            for flip, dy, dx in matches
        )
    # the emoji's white margin is at least the shift: rolling wraps only background around
    margin = EMOJI.margin
    assert pictures[..., :margin, :].eq(1).all() and pictures[..., -margin:, :].eq(1).all()


def test_the_emoji_drawings_offered_come_back_in_their_colours():
    # a heart is red, a star and a smiley are yellow in Noto Color Emoji: the model must have learnt that from edges
    model = pix2pix.load("emoji")
    drawings = tab.example_drawings("emoji")
    for name, expected in (("heart", "red"), ("star", "yellow"), ("smiley", "yellow")):
        with torch.inference_mode():
            picture = model.translate(pix2pix.input_edges(drawings[name], EMOJI).edges)[0]
        object_pixels = picture[:, (picture < 0.85).any(dim=0)]  # (3, N): everything not white
        red, green, blue = object_pixels.mean(dim=1).tolist()
        if expected == "red":
            assert red > 1.5 * green and red > 1.5 * blue, (name, red, green, blue)
        else:
            assert red > 1.5 * blue and green > 1.5 * blue, (name, red, green, blue)
