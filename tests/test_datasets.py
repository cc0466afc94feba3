"""The data sets: Fashion-MNIST's IDX files, the bundled sample of its test split, the emoji set."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from core import datasets


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
    train, test = datasets.load_fashion_mnist("train"), datasets.load_fashion_mnist("test")
    assert train.images.shape == (5, 28, 28) and test.images.shape == (3, 28, 28)
    assert test.labels.tolist() == [0, 1, 2]


@pytest.mark.fast
def test_truncated_idx_is_an_error(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(struct.pack(">HBBI", 0, 8, 1, 100) + b"\x00" * 10)
    with pytest.raises(ValueError, match="truncated"):
        datasets._read_idx(path)


@pytest.mark.fast
def test_bundled_sample_is_balanced_held_out_test_images(sample):
    assert len(sample) == 500 and sample.images.shape == (500, 28, 28) and sample.images.dtype == np.uint8
    assert np.bincount(sample.labels, minlength=10).tolist() == [50] * 10
    assert datasets.SAMPLE_PATH.stat().st_size < 2 * 1024 * 1024


@pytest.mark.fast
@pytest.mark.skipif(datasets.fashion_mnist_dir() is None, reason="full Fashion-MNIST not installed")
def test_bundled_sample_comes_from_the_test_split(sample):
    test = datasets.load_fashion_mnist("test")
    with np.load(datasets.SAMPLE_PATH) as archive:
        indices = archive["test_indices"]
    assert np.array_equal(test.images[indices], sample.images)


def test_emoji_set_renders_named_colour_images():
    import os

    from core.datasets import DatasetNotFoundError
    from core.emoji import load_emoji

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
