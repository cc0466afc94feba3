"""Any image a person gives -> the model's input: every mode and depth, drawings, empty and damaged inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.images import EmptyImageError, to_model_input
from demos.render import to_display
from tests.conftest import rgba_drawing

pytestmark = pytest.mark.fast  # no trained weights, no server: the tier run after each change


def test_sample_image_passes_through_unchanged(sample):
    original = torch.from_numpy(sample.images[7] / 255.0).float()
    assert torch.allclose(to_model_input(sample.images[7])[0, 0], original, atol=1e-6)
    upscaled = np.asarray(to_display(original))  # what the example gallery shows, 224x224
    assert upscaled.shape == (224, 224)
    assert torch.allclose(to_model_input(upscaled)[0, 0], original, atol=1 / 255)


def test_sketchpad_rgba_strokes_become_bright_ink_centred():
    drawing = rgba_drawing(strokes=[(40, 130, 240, 150)])  # a vertical bar, off-centre horizontally
    x = to_model_input(drawing)
    assert x.shape == (1, 1, 28, 28)
    assert x.max() > 0.9 and x[0, 0, 0].max() < 0.05  # strokes bright, top row empty
    columns = x[0, 0].sum(dim=0)
    centre_of_mass = (columns * torch.arange(28)).sum() / columns.sum()
    assert 12.5 < centre_of_mass < 14.5  # framed like a garment: centred


def test_dark_drawing_on_white_is_inverted():
    image = np.full((100, 60, 3), 255, dtype=np.uint8)
    image[20:80, 25:35] = 0
    x = to_model_input(image)
    assert x[0, 0, 0, 0] < 0.05 and x.max() > 0.9


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LA", "YCbCr"])
def test_any_pil_mode_converts(mode):
    base = Image.new("RGB", (50, 70), "black")
    base.paste((255, 255, 255), (10, 10, 40, 60))
    x = to_model_input(base.convert(mode))
    assert x.shape == (1, 1, 28, 28) and x.min() >= 0 and x.max() <= 1 and x.max() > 0.5


@pytest.mark.parametrize("shape", [(2, 2), (2, 3000), (3000, 2), (5, 5, 3)])
def test_odd_sizes_convert(shape):
    image = np.zeros(shape, dtype=np.uint8)
    image[0, 0] = 255
    assert to_model_input(image).shape == (1, 1, 28, 28)


@pytest.mark.parametrize(
    "empty",
    [
        None,
        rgba_drawing(),
        np.full((1, 1), 255, np.uint8),
        np.zeros((28, 28), np.uint8),
        np.full((9, 9, 3), 200, np.uint8),
    ],
)
def test_empty_inputs_raise_a_clear_error(empty):
    with pytest.raises(EmptyImageError):
        to_model_input(empty)


def test_unreadable_array_is_a_value_error():
    with pytest.raises(ValueError, match="Cannot read"):
        to_model_input(np.zeros((4, 4, 7)))


def test_white_strokes_on_a_transparent_canvas_count_as_ink():
    canvas = np.zeros((60, 60, 4), dtype=np.uint8)
    canvas[10:50, 25:35] = (255, 255, 255, 255)
    x = to_model_input(canvas)
    assert x.max() > 0.9 and x[0, 0, 0, 0] == 0


def test_a_damaged_upload_is_a_clear_error_not_an_internal_one(tmp_path):
    import io

    buffer = io.BytesIO()
    Image.new("L", (64, 64), 0).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3])
    with pytest.raises(ValueError, match="damaged or incomplete"):
        to_model_input(Image.open(tmp_path / "cut.png"))


@pytest.mark.parametrize("depth", ["16-bit array", "16-bit PIL", "bool array", "palette", "PA"])
def test_every_depth_and_odd_mode_reads_as_the_same_garment(depth):
    ink = np.zeros((56, 56), np.uint8)
    ink[8:48, 20:36] = 255  # a bright bar on black
    image = {
        "16-bit array": lambda: ink.astype(np.uint16) * 257,
        "16-bit PIL": lambda: Image.fromarray(ink.astype(np.uint16) * 257),
        "bool array": lambda: ink > 0,
        "palette": lambda: Image.fromarray(ink).convert("P"),
        "PA": lambda: Image.fromarray(ink).convert("RGBA").convert("PA"),
    }[depth]()
    assert torch.allclose(to_model_input(image), to_model_input(ink), atol=2 / 255)
