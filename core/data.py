"""Data: Fashion-MNIST from IDX files, the bundled sample, and image <-> model tensor conversion.

Images inside core are float tensors in [0, 1], shape (B, 1, 28, 28) for Fashion-MNIST.
"""
from __future__ import annotations

import gzip
import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.runtime import on_cpu

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
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
    picks = np.concatenate([
        rng.choice(np.flatnonzero(test.labels == c), per_class, replace=False) for c in range(len(FASHION_CLASSES))
    ])
    picks = rng.permutation(picks)
    sample = ImageSet(images=test.images[picks], labels=test.labels[picks])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=sample.images, labels=sample.labels.astype(np.uint8), test_indices=picks)
    return sample


# --- images in and out -------------------------------------------------------------------------------------------

class EmptyImageError(ValueError):
    """The image (or drawing) holds nothing to work on."""


MAX_INPUT_SIDE = 1024  # larger inputs are shrunk first: nothing here needs more, and a huge upload stays cheap
MAX_PICTURE_PIXELS = 40_000_000  # a 40-megapixel photo still opens; a decompression bomb (a few KB) does not
PICTURE_FORMS = "PNG, JPEG, GIF, WebP or BMP"
PICTURE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")  # Pillow's (JPEG opens MPO too); EPS (Ghostscript) etc. refused


class PictureFileError(ValueError):
    """A file that is not a picture this app can read, in a sentence."""


def check_picture_file(source: str | Path | bytes, name: str | None = None) -> int:
    """Check that `source` (a path, or the file's bytes) is a whole picture of at most MAX_PICTURE_PIXELS; return its
    number of frames (more than 1: an animation, of which the first is used). `name`: the file's original name."""
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError:
        raise PictureFileError("the file could not be read: upload it again.") from None
    if not data:
        raise PictureFileError("the file is empty.")
    head = data[:1024].lstrip().lower()
    if (name or "").lower().endswith(".svg") or head.startswith((b"<?xml", b"<svg")) or b"<svg" in head:
        raise PictureFileError(f"SVG drawings cannot be read here; export it as a {PICTURE_FORMS} picture.")
    try:
        with Image.open(io.BytesIO(data), formats=PICTURE_FORMATS) as picture:
            width, height = picture.size
            if width * height > MAX_PICTURE_PIXELS:
                raise PictureFileError(f"the picture is {width:,} × {height:,} pixels; at most "
                                       f"{MAX_PICTURE_PIXELS // 1_000_000} megapixels are accepted.")
            # a phone's JPEG may hold a second picture (MPO: a depth or gain map): a photo, not an animation
            frames = getattr(picture, "n_frames", 1) if picture.format in ("GIF", "PNG", "WEBP") else 1
            picture.load()
    except Image.DecompressionBombError:
        raise PictureFileError(f"the picture has more than {MAX_PICTURE_PIXELS // 1_000_000} megapixels.") from None
    except Image.UnidentifiedImageError:
        raise PictureFileError(f"the file is not a picture; send a {PICTURE_FORMS} file.") from None
    except PictureFileError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise PictureFileError("the picture file is damaged or cut short; save it again or pick another.") from None
    return frames


def to_pil(image) -> Image.Image:
    """Accept a PIL image (any mode), a numpy array (H, W), (H, W, 1/3/4) of any depth (bool, 8/16-bit, float), or a
    Gradio ImageEditor dict; return an 8-bit PIL image no larger than MAX_INPUT_SIDE on its longer side."""
    if image is None:
        raise EmptyImageError("No image was given: pick an example, upload an image or draw one.")
    if isinstance(image, dict):  # gr.Sketchpad / gr.ImageEditor value: {"background", "layers", "composite"}
        image = image.get("composite") if image.get("composite") is not None else image.get("background")
        if image is None:
            raise EmptyImageError("The drawing is empty: draw something first.")
    if isinstance(image, Image.Image):
        try:
            image.load()  # an upload is opened lazily: a damaged file fails here, not deep inside a handler
        except (OSError, Image.DecompressionBombError) as error:
            raise ValueError("The image file is damaged or incomplete: save it again or pick another.") from error
        pil = _eight_bit(image)
    else:
        pil = Image.fromarray(_eight_bit_array(np.asarray(image)))
    if max(pil.size) > MAX_INPUT_SIDE:
        pil = pil.copy()
        pil.thumbnail((MAX_INPUT_SIDE, MAX_INPUT_SIDE), Image.LANCZOS)
    return pil


def _eight_bit_array(array: np.ndarray) -> np.ndarray:
    if array.ndim not in (2, 3) or array.size == 0 or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(f"Cannot read an image of shape {array.shape}.")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == bool:  # a 1-bit image: ink and paper
        return array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        values = array.astype(np.float64)
        finite = values[np.isfinite(values)]
        top = finite.max() if finite.size else 0.0
        if array.dtype.kind == "f":
            scale = 255.0 if top <= 1.0 else 1.0
        else:  # 16-bit (and wider) integers: by the 16-bit range, or their own maximum beyond it
            scale = 1.0 if top <= 255 else 255.0 / max(top, 65535.0)
        array = np.clip(np.nan_to_num(values) * scale, 0, 255).astype(np.uint8)
    return array


def _eight_bit(pil: Image.Image) -> Image.Image:
    """PIL modes the rest of the code does not expect -> L, RGB or RGBA (16-bit and float greys by their range)."""
    if pil.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_eight_bit_array(np.asarray(pil)))
    if pil.mode == "CMYK" or pil.mode == "YCbCr" or pil.mode == "LAB" or pil.mode == "HSV":
        return pil.convert("RGB")
    if pil.mode == "1":
        return pil.convert("L")
    if pil.mode in ("PA", "La", "RGBa"):
        return pil.convert("RGBA")  # resampling palette indices or premultiplied values would garble them
    return pil


def frame_object(pixels: np.ndarray, mask: np.ndarray, size: int, margin: int, background=0.0,
                 resample=Image.LANCZOS) -> np.ndarray:
    """Crop (H, W) or (H, W, C) pixels in [0, 1] to the box of `mask`, scale its longer side to size - 2 margin
    (keeping the aspect ratio) and centre it on a size x size canvas of `background`: how the data sets frame
    their objects. Returns float64 in [0, 1]."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = (size - 2 * margin) / max(crop.shape[:2])
    new_h, new_w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    resized = Image.fromarray((np.clip(crop, 0, 1) * 255).astype(np.uint8)).resize((new_w, new_h), resample)
    canvas = np.empty((size, size) + crop.shape[2:])
    canvas[...] = background
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = np.asarray(resized, dtype=np.float64) / 255.0
    return canvas


def to_grayscale_ink(image) -> np.ndarray:
    """Any image -> (H, W) float in [0, 1] where 1 is 'ink' (bright garment on dark ground, as in Fashion-MNIST).

    Transparent pixels count as background. Sketchpad strokes come as opaque black on a transparent
    canvas, so a plain L conversion would be all black; drawings and photos with a light background are
    inverted so that the object is bright, as Fashion-MNIST's garments are.
    """
    pil = to_pil(image)
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        rgba = np.asarray(pil.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3]
        if alpha.max() == 0:
            raise EmptyImageError("The image is fully transparent: draw or upload something visible.")
        luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        if alpha.min() < 1.0:
            # Ink is whatever is opaque and dark; opaque light strokes (a white pen) count by their opacity.
            ink = alpha * (1.0 - luminance)
            return ink if ink.max() >= 0.05 else alpha
        gray = luminance
    else:
        gray = np.asarray(pil.convert("L"), dtype=np.float64) / 255.0
    if gray.max() - gray.min() < 1e-3:
        raise EmptyImageError("The image is a single flat colour: there is nothing to reconstruct.")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1.0 - gray if np.median(border) > 0.5 else gray


def to_model_input(image, size: int = IMAGE_SIZE, margin: int = 2) -> torch.Tensor:
    """Any image -> (1, 1, size, size) float tensor in [0, 1], framed like a Fashion-MNIST image.

    The object is cropped to its bounding box, scaled to fit a (size - 2 margin) box keeping its aspect ratio and
    centred. An image already size x size (or a crisp upscale of one) is taken as it is.
    """
    ink = _undo_nearest_upscale(to_grayscale_ink(image), size)
    mask = ink > 0.1
    if not mask.any():
        raise EmptyImageError("The image holds no visible object: draw or upload something with more contrast.")
    framed = ink if ink.shape == (size, size) else frame_object(ink, mask, size, margin)
    return torch.from_numpy(framed).float().clamp(0, 1).view(1, 1, size, size)


def to_colour_input(image, size: int, margin: int = 2, background: tuple[float, float, float] | None = None
                    ) -> torch.Tensor:
    """Any picture -> (1, 3, size, size) in [0, 1], framed as the emoji are: transparency composited onto white, the
    object (whatever differs from the background: the picture's border colour unless given) cropped, its longer
    side scaled to size - 2 margin and centred on that background. A picture already size x size is taken as it is.
    The threshold (20 of 255) stays above JPEG's ringing, which would otherwise widen the object's box."""
    pil = to_pil(image)
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        white = Image.new("RGBA", pil.size, (255, 255, 255, 255))
        white.alpha_composite(pil.convert("RGBA"))
        pil = white
    rgb = np.asarray(pil.convert("RGB"), dtype=np.float64) / 255.0
    if background is None:  # white for the emoji; a photo keeps its own
        background = np.median(np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]), axis=0)
    mask = np.abs(rgb - np.asarray(background)).max(axis=2) > 20 / 255
    if not mask.any():
        raise EmptyImageError("The picture is a single flat colour: pick an example, upload or draw something.")
    if rgb.shape[:2] != (size, size):
        rgb = frame_object(rgb, mask, size, margin, background)
    return torch.from_numpy(rgb).permute(2, 0, 1).float().unsqueeze(0)


def _undo_nearest_upscale(ink: np.ndarray, size: int) -> np.ndarray:
    """A size*k square image made of k x k blocks (what `to_display` produces) -> the size x size original."""
    h, w = ink.shape
    if h != w or h % size or h == size:
        return ink
    k = h // size
    small = ink[::k, ::k]
    return small if np.allclose(np.repeat(np.repeat(small, k, axis=0), k, axis=1), ink, atol=1 / 255) else ink


def to_display(x: torch.Tensor | np.ndarray, scale: int = 8) -> Image.Image:
    """A (1, H, W), (H, W) or (1, 1, H, W) image in [0, 1] -> crisp PIL image, upscaled by nearest neighbour."""
    array = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    array = np.squeeze(array)
    if array.ndim == 3 and array.shape[0] in (1, 3):  # (C, H, W) -> (H, W, C)
        array = np.moveaxis(array, 0, -1)
    pil = Image.fromarray((np.clip(array, 0, 1) * 255).round().astype(np.uint8))
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def grid_cell_px(side: int = 28, scale: int = 4, pad: int = 1) -> int:
    """The pitch of image_grid's cells in its picture: one image of `side` pixels and its gutter, upscaled."""
    return (side + pad) * scale


def image_grid(images: torch.Tensor, columns: int, scale: int = 4, pad: int = 1) -> Image.Image:
    """(N, C, H, W) in [0, 1], C = 1 or 3 -> one crisp grid image with `pad` pixel gutters."""
    images = on_cpu(images.detach())
    n, channels, h, w = images.shape
    rows = (n + columns - 1) // columns
    canvas = torch.full((channels, rows * (h + pad) + pad, columns * (w + pad) + pad), 0.5)
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[:, top : top + h, left : left + w] = images[i]
    return to_display(canvas, scale=scale)


def signed_to_rgb(weights: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) signed values -> (N, 3, H, W) in [0, 1]: white at 0, red positive, blue negative.

    Each image is scaled by its own largest magnitude, so the pattern, not the scale, is what shows.
    """
    v = weights / weights.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)  # in [-1, 1]
    red = 1 - (-v).clamp(min=0)
    blue = 1 - v.clamp(min=0)
    green = 1 - v.abs()
    return torch.cat([red, green, blue], dim=1)


def out_of_distribution_examples(size: int = 112) -> dict[str, Image.Image]:
    """Inputs unlike any garment (a digit, a letter, a smiley), drawn with Pillow, white on black.

    They are inputs, not outputs: they show that an autoencoder is data specific.
    """
    from PIL import ImageDraw, ImageFont

    examples = {}
    for label, text in (("digit 7", "7"), ("digit 3", "3"), ("letter A", "A")):
        canvas = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default(size=int(size * 0.8))
        draw.text((size / 2, size / 2), text, fill=255, font=font, anchor="mm")
        examples[label] = canvas
    smiley = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(smiley)
    draw.ellipse((10, 10, size - 10, size - 10), outline=255, width=8)
    draw.ellipse((35, 38, 45, 48), fill=255)
    draw.ellipse((size - 45, 38, size - 35, 48), fill=255)
    draw.arc((32, 40, size - 32, size - 30), 20, 160, fill=255, width=7)
    examples["smiley"] = smiley
    return examples




# --- edge maps: what pix2pix translates from -------------------------------------------------------------------

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
    """A drawing (any mode: Sketchpad RGBA, dark strokes on white, light on black) -> (1, 1, size, size) in {0, 1},
    made to look like the training edge maps: the strokes are thinned to their centre lines at full resolution
    (so the pen's width does not matter), framed as the data is (their box scaled to fit size - 2 margin,
    centred), and thinned again to one-pixel lines, as Canny's are.
    """
    from skimage.morphology import dilation, skeletonize

    ink = to_grayscale_ink(image)
    strokes = ink > 0.2
    if not strokes.any():
        raise EmptyImageError("The drawing is empty: draw the outline of an object first.")
    centre_lines = skeletonize(strokes)
    rows, cols = np.flatnonzero(centre_lines.any(axis=1)), np.flatnonzero(centre_lines.any(axis=0))
    scale = (size - 2 * margin) / max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    widen = max(1, round(1 / scale))  # about one output pixel wide, so no line falls between samples
    lines = dilation(centre_lines, np.ones((widen, widen), dtype=bool)) if widen > 1 else centre_lines
    framed = frame_object(lines.astype(np.float64), centre_lines, size, margin, resample=Image.BOX)
    return torch.from_numpy(skeletonize(framed > 0.25)).float().view(1, 1, size, size)


# --- the colour set: Noto Color Emoji ------------------------------------------------------------------------------

EMOJI_FONT_PATHS = (Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),)  # Debian fonts-noto-color-emoji
EMOJI_FONT_SIZE = 109  # the font's only bitmap size
EMOJI_SIZE = 64
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2190, 0x21FF), (0x2300, 0x23FF),
                 (0x25A0, 0x25FF), (0x2100, 0x214F), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299),
                 (0xA9, 0xAE), (0x203C, 0x2049))


@dataclass(frozen=True)
class EmojiSet:
    images: np.ndarray  # (N, S, S, 3) uint8, composited on white
    names: tuple[str, ...]  # Unicode names, lower case: the captions
    codepoints: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.names)

    def tensors(self) -> torch.Tensor:
        """(N, 3, S, S) float in [0, 1]."""
        return torch.from_numpy(self.images).permute(0, 3, 1, 2).float().div(255)

    def take(self, n: int) -> "EmojiSet":
        return EmojiSet(self.images[:n], self.names[:n], self.codepoints[:n])

    def split(self, part: str) -> "EmojiSet":
        """A fixed split by codepoint: every tenth emoji is held out ('test'), the rest is 'train'."""
        keep = [i for i, cp in enumerate(self.codepoints) if (cp % 10 == 7) == (part == "test")]
        return EmojiSet(self.images[keep], tuple(self.names[i] for i in keep), tuple(self.codepoints[i] for i in keep))


def emoji_font_path() -> Path:
    for path in (Path(os.environ["EMOJI_FONT"]),) if os.environ.get("EMOJI_FONT") else EMOJI_FONT_PATHS:
        if path.is_file():
            return path
    raise DatasetNotFoundError("Noto Color Emoji not found. Install it with `apt-get install fonts-noto-color-emoji`, "
                               "or point $EMOJI_FONT at NotoColorEmoji.ttf.")


def render_emoji(character: str, font, size: int = EMOJI_SIZE) -> np.ndarray | None:
    """One emoji -> (size, size, 3) uint8 on white, cropped to its pixels and centred; None if the font lacks it."""
    from PIL import ImageDraw

    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((10, 10), character, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    inner = size - 4  # a 2-pixel margin, as Fashion-MNIST frames its garments
    square = square.resize((inner, inner), Image.LANCZOS)
    white = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    white.alpha_composite(square, (2, 2))
    return np.asarray(white.convert("RGB"))


EMOJI_SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "emoji_sample.npz"


def write_emoji_sample(path: Path = EMOJI_SAMPLE_PATH) -> EmojiSet:
    """Bundle the held-out emoji (the 'test' split, about 140) so galleries and tests work without the font."""
    held_out = load_emoji().split("test")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=held_out.images, names=np.array(held_out.names),
                        codepoints=np.array(held_out.codepoints, dtype=np.int64))
    return held_out


def load_emoji_sample() -> EmojiSet:
    """The bundled held-out emoji: never seen by the recipes that train on the colour set."""
    with np.load(EMOJI_SAMPLE_PATH) as archive:
        return EmojiSet(archive["images"].copy(), tuple(str(n) for n in archive["names"]),
                        tuple(int(c) for c in archive["codepoints"]))


def load_emoji(size: int = EMOJI_SIZE) -> EmojiSet:
    """Every single-codepoint emoji the font draws that has a Unicode name (about 1,400), rendered at size x size."""
    import unicodedata

    from PIL import ImageFont

    font = ImageFont.truetype(str(emoji_font_path()), EMOJI_FONT_SIZE)
    images, names, codepoints = [], [], []
    for first, last in _EMOJI_RANGES:
        for codepoint in range(first, last + 1):
            name = unicodedata.name(chr(codepoint), None)
            if name is None:
                continue
            image = render_emoji(chr(codepoint), font, size)
            if image is not None:
                images.append(image)
                names.append(name.lower())
                codepoints.append(codepoint)
    return EmojiSet(np.stack(images), tuple(names), tuple(codepoints))

__all__ = [
    "FASHION_CLASSES", "IMAGE_SIZE", "ImageSet", "DatasetNotFoundError", "EmptyImageError", "PictureFileError",
    "check_picture_file", "MAX_PICTURE_PIXELS",
    "load_fashion_mnist", "load_sample", "load_training_data", "write_sample",
    "to_pil", "frame_object", "to_grayscale_ink", "to_model_input", "to_colour_input", "to_display", "image_grid", "signed_to_rgb",
    "out_of_distribution_examples", "EmojiSet", "load_emoji", "load_emoji_sample", "write_emoji_sample", "render_emoji",
    "emoji_font_path", "edge_map", "sketch_to_edges", "is_line_drawing",
]
