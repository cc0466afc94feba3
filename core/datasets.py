"""Data sets: Fashion-MNIST from its IDX files and the bundled sample of its test split.

Images inside core are float tensors in [0, 1], shape (B, 1, 28, 28) for Fashion-MNIST.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.lazy import lazy_import

torch = lazy_import("torch")  # imported on first use: the page is drawn before torch loads (core/lazy.py)

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SIZE = 28
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "fashion_mnist_sample.npz"
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetNotFoundError(FileNotFoundError):
    """Raised when the full Fashion-MNIST files cannot be found or fetched."""


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 28, 28) float in [0, 1], (N,) long."""
        x = torch.from_numpy(self.images).float().div_(255.0).unsqueeze(1)
        return x, torch.from_numpy(self.labels).long()


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic, dims, then big-endian unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: expected {np.prod(dims)} values, found {array.size}")
    return array.reshape(dims).copy()  # writable, so torch.from_numpy can share it


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def fashion_mnist_dir() -> Path | None:
    """$FASHION_MNIST_DIR, else the Debian package's folder; None when neither holds the files."""
    candidates = [Path(os.environ["FASHION_MNIST_DIR"])] if os.environ.get("FASHION_MNIST_DIR") else []
    candidates.append(DEBIAN_FASHION_DIR)
    for directory in candidates:
        if all(_find_idx(directory, stem) for pair in _IDX_FILES.values() for stem in pair):
            return directory
    return None


def load_fashion_mnist(split: str = "train") -> ImageSet:
    """The full Fashion-MNIST split ('train': 60,000 images, 'test': 10,000).

    Looks in $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist),
    then tries torchvision's download (only works where the internet is reachable).
    """
    if split not in _IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    directory = fashion_mnist_dir()
    if directory is None:
        directory = _download_with_torchvision()
    image_stem, label_stem = _IDX_FILES[split]
    images = _read_idx(_find_idx(directory, image_stem))
    labels = _read_idx(_find_idx(directory, label_stem)).astype(np.int64)
    return ImageSet(images=images, labels=labels)


def _download_with_torchvision() -> Path:
    root = Path(os.environ.get("FASHION_MNIST_DOWNLOAD_DIR", Path.home() / ".cache" / "fashion-mnist"))
    try:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(str(root), train=True, download=True)
        FashionMNIST(str(root), train=False, download=True)
    except Exception as error:  # no network, or a broken mirror
        raise DatasetNotFoundError(
            "Fashion-MNIST not found. Install it with `apt-get install dataset-fashion-mnist`, "
            "or point $FASHION_MNIST_DIR at a folder holding the four IDX files."
        ) from error
    return root / "FashionMNIST" / "raw"


def load_sample() -> ImageSet:
    """The bundled sample: held-out Fashion-MNIST test images with labels (ships in the repo)."""
    with np.load(SAMPLE_PATH) as archive:
        return ImageSet(images=archive["images"].copy(), labels=archive["labels"].astype(np.int64))


def load_training_data(split: str = "train", tiny: bool = False) -> ImageSet:
    """The split for a training recipe; `tiny` (dry runs, CI) takes 64 images of the bundled sample."""
    if tiny:
        sample = load_sample()
        return ImageSet(images=sample.images[:64], labels=sample.labels[:64])
    return load_fashion_mnist(split)


def write_sample(path: Path = SAMPLE_PATH, per_class: int = 50, seed: int = 0) -> ImageSet:
    """Build the bundled sample: `per_class` random test images of each class (never training images)."""
    test = load_fashion_mnist("test")
    rng = np.random.default_rng(seed)
    picks = np.concatenate(
        [rng.choice(np.flatnonzero(test.labels == c), per_class, replace=False) for c in range(len(FASHION_CLASSES))]
    )
    picks = rng.permutation(picks)
    sample = ImageSet(images=test.images[picks], labels=test.labels[picks])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=sample.images, labels=sample.labels.astype(np.uint8), test_indices=picks)
    return sample
