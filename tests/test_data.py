from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from core import data
from core.data import EmptyImageError, to_display, to_model_input
from tests.conftest import rgba_drawing


def write_idx(path, array: np.ndarray, gz: bool):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.fast
@pytest.mark.parametrize("gz", [False, True])
def test_reads_idx_files_from_fashion_mnist_dir(tmp_path, monkeypatch, gz):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for split, n in (("train", 5), ("t10k", 3)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), gz)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, gz)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    train, test = data.load_fashion_mnist("train"), data.load_fashion_mnist("test")
    assert train.images.shape == (5, 28, 28) and test.images.shape == (3, 28, 28)
    assert test.labels.tolist() == [0, 1, 2]


@pytest.mark.fast
def test_truncated_idx_is_an_error(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(struct.pack(">HBBI", 0, 8, 1, 100) + b"\x00" * 10)
    with pytest.raises(ValueError, match="truncated"):
        data._read_idx(path)


@pytest.mark.fast
def test_bundled_sample_is_balanced_held_out_test_images(sample):
    assert len(sample) == 500 and sample.images.shape == (500, 28, 28) and sample.images.dtype == np.uint8
    assert np.bincount(sample.labels, minlength=10).tolist() == [50] * 10
    assert data.SAMPLE_PATH.stat().st_size < 2 * 1024 * 1024


@pytest.mark.fast
@pytest.mark.skipif(data.fashion_mnist_dir() is None, reason="full Fashion-MNIST not installed")
def test_bundled_sample_comes_from_the_test_split(sample):
    test = data.load_fashion_mnist("test")
    with np.load(data.SAMPLE_PATH) as archive:
        indices = archive["test_indices"]
    assert np.array_equal(test.images[indices], sample.images)


@pytest.mark.fast
def test_sample_image_passes_through_unchanged(sample):
    original = torch.from_numpy(sample.images[7] / 255.0).float()
    assert torch.allclose(to_model_input(sample.images[7])[0, 0], original, atol=1e-6)
    upscaled = np.asarray(to_display(original))  # what the example gallery shows, 224x224
    assert upscaled.shape == (224, 224)
    assert torch.allclose(to_model_input(upscaled)[0, 0], original, atol=1 / 255)


@pytest.mark.fast
def test_sketchpad_rgba_strokes_become_bright_ink_centred():
    drawing = rgba_drawing(strokes=[(40, 130, 240, 150)])  # a vertical bar, off-centre horizontally
    x = to_model_input(drawing)
    assert x.shape == (1, 1, 28, 28)
    assert x.max() > 0.9 and x[0, 0, 0].max() < 0.05  # strokes bright, top row empty
    columns = x[0, 0].sum(dim=0)
    centre_of_mass = (columns * torch.arange(28)).sum() / columns.sum()
    assert 12.5 < centre_of_mass < 14.5  # framed like a garment: centred


@pytest.mark.fast
def test_sketchpad_dict_value_is_accepted():
    drawing = rgba_drawing(strokes=[(50, 50, 200, 80)])
    x = to_model_input({"background": None, "layers": [drawing], "composite": drawing})
    assert x.max() > 0.9


@pytest.mark.fast
def test_dark_drawing_on_white_is_inverted():
    image = np.full((100, 60, 3), 255, dtype=np.uint8)
    image[20:80, 25:35] = 0
    x = to_model_input(image)
    assert x[0, 0, 0, 0] < 0.05 and x.max() > 0.9


@pytest.mark.fast
@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LA", "YCbCr"])
def test_any_pil_mode_converts(mode):
    base = Image.new("RGB", (50, 70), "black")
    base.paste((255, 255, 255), (10, 10, 40, 60))
    x = to_model_input(base.convert(mode))
    assert x.shape == (1, 1, 28, 28) and 0 <= x.min() and x.max() <= 1 and x.max() > 0.5


@pytest.mark.fast
@pytest.mark.parametrize("shape", [(2, 2), (2, 3000), (3000, 2), (5, 5, 3)])
def test_odd_sizes_convert(shape):
    image = np.zeros(shape, dtype=np.uint8)
    image[0, 0] = 255
    assert to_model_input(image).shape == (1, 1, 28, 28)


@pytest.mark.fast
@pytest.mark.parametrize("empty", [None, rgba_drawing(), np.full((1, 1), 255, np.uint8), np.zeros((28, 28), np.uint8), np.full((9, 9, 3), 200, np.uint8),
                                   {"background": None, "layers": [], "composite": None}])
def test_empty_inputs_raise_a_clear_error(empty):
    with pytest.raises(EmptyImageError):
        to_model_input(empty)


@pytest.mark.fast
def test_unreadable_array_is_a_value_error():
    with pytest.raises(ValueError, match="Cannot read"):
        to_model_input(np.zeros((4, 4, 7)))


@pytest.mark.fast
def test_display_is_crisp_nearest_neighbour():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    shown = np.asarray(to_display(x, scale=4))
    assert shown.shape == (8, 8) and set(np.unique(shown)) == {0, 255}


@pytest.mark.fast
def test_out_of_distribution_examples_are_drawn_not_garments():
    examples = data.out_of_distribution_examples()
    assert {"digit 7", "smiley"} <= set(examples)
    for image in examples.values():
        assert to_model_input(image).max() > 0.5


@pytest.mark.fast
def test_white_strokes_on_a_transparent_canvas_count_as_ink():
    canvas = np.zeros((60, 60, 4), dtype=np.uint8)
    canvas[10:50, 25:35] = (255, 255, 255, 255)
    x = to_model_input(canvas)
    assert x.max() > 0.9 and x[0, 0, 0, 0] == 0


def test_emoji_set_renders_named_colour_images():
    import os

    from core.data import DatasetNotFoundError, load_emoji

    try:
        emoji = load_emoji()
    except DatasetNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("fonts-noto-color-emoji is not installed")
    assert 1200 <= len(emoji) <= 1600 and emoji.images.shape[1:] == (64, 64, 3)
    assert "red apple" in emoji.names and "grinning face" in emoji.names
    apple = emoji.images[emoji.names.index("red apple")].astype(int)
    assert (apple[..., 0] - apple[..., 2]).max() > 100  # colour, not grey: some pixels strongly red
    assert (emoji.images[:, 0, 0] == 255).all()  # white background at the corners
    test, train = emoji.split("test"), emoji.split("train")
    assert len(test) + len(train) == len(emoji) and not set(test.codepoints) & set(train.codepoints)


@pytest.mark.fast
def test_a_damaged_upload_is_a_clear_error_not_an_internal_one(tmp_path):
    import io

    buffer = io.BytesIO()
    Image.new("L", (64, 64), 0).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3])
    with pytest.raises(ValueError, match="damaged or incomplete"):
        to_model_input(Image.open(tmp_path / "cut.png"))


@pytest.mark.fast
@pytest.mark.parametrize("depth", ["16-bit array", "16-bit PIL", "bool array", "palette", "PA"])
def test_every_depth_and_odd_mode_reads_as_the_same_garment(depth):
    ink = np.zeros((56, 56), np.uint8)
    ink[8:48, 20:36] = 255  # a bright bar on black
    image = {"16-bit array": lambda: ink.astype(np.uint16) * 257,
             "16-bit PIL": lambda: Image.fromarray(ink.astype(np.uint16) * 257),
             "bool array": lambda: ink > 0,
             "palette": lambda: Image.fromarray(ink).convert("P"),
             "PA": lambda: Image.fromarray(ink).convert("RGBA").convert("PA")}[depth]()
    assert torch.allclose(to_model_input(image), to_model_input(ink), atol=2 / 255)
