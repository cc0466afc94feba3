"""Any image a person gives (a file, an array of any depth, a drawing) -> a model tensor, with clear refusals.

Framing follows the data sets: a garment bright on black like Fashion-MNIST's, a colour picture centred like the
emoji. Errors say what is wrong with the image; the app says what to do about it.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from core.datasets import IMAGE_SIZE
from core.lazy import lazy_import

torch = lazy_import("torch")  # imported on first use: the page is drawn before torch loads (core/lazy.py)


class EmptyImageError(ValueError):
    """The image (or drawing) holds nothing to work on."""


MAX_INPUT_SIDE = 1024  # larger inputs are shrunk first: nothing here needs more, and a huge image stays cheap
MAX_PICTURE_PIXELS = 40_000_000  # a 40-megapixel photo still opens; a decompression bomb (a few KB) does not
PICTURE_FORMS = "PNG, JPEG, GIF, WebP or BMP"
PICTURE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")  # Pillow's (JPEG opens MPO too); EPS (Ghostscript) etc. refused


PICTURE_PROBLEMS = ("unreadable", "empty", "svg", "too_large", "not_a_picture", "damaged")


class PictureFileError(ValueError):
    """A file that is not a picture this code can read: what is wrong, in a sentence, and which of PICTURE_PROBLEMS
    it is (so that the app can say what to do about it)."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


def check_picture_file(source: str | Path | bytes, name: str | None = None) -> int:
    """Check that `source` (a path, or the file's bytes) is a whole picture of at most MAX_PICTURE_PIXELS; return its
    number of frames (more than 1: an animation, of which the first is used). `name`: the file's original name."""
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError:
        raise PictureFileError("the file could not be read.", "unreadable") from None
    if not data:
        raise PictureFileError("the file is empty.", "empty")
    head = data[:1024].lstrip().lower()
    if (name or "").lower().endswith(".svg") or head.startswith((b"<?xml", b"<svg")) or b"<svg" in head:
        raise PictureFileError(f"SVG drawings cannot be read here, only {PICTURE_FORMS} pictures.", "svg")
    try:
        with Image.open(io.BytesIO(data), formats=PICTURE_FORMATS) as picture:
            width, height = picture.size
            if width * height > MAX_PICTURE_PIXELS:
                raise PictureFileError(
                    f"the picture is {width:,} × {height:,} pixels; at most "
                    f"{MAX_PICTURE_PIXELS // 1_000_000} megapixels are accepted.",
                    "too_large",
                )
            # a phone's JPEG may hold a second picture (MPO: a depth or gain map): a photo, not an animation
            frames = getattr(picture, "n_frames", 1) if picture.format in ("GIF", "PNG", "WEBP") else 1
            picture.load()
    except Image.DecompressionBombError:
        raise PictureFileError(
            f"the picture has more than {MAX_PICTURE_PIXELS // 1_000_000} megapixels.", "too_large"
        ) from None
    except Image.UnidentifiedImageError:
        raise PictureFileError(
            f"the file is not a picture in a format read here ({PICTURE_FORMS}).", "not_a_picture"
        ) from None
    except PictureFileError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise PictureFileError("the picture file is damaged or cut short.", "damaged") from None
    return frames


def to_pil(image, max_side: int = MAX_INPUT_SIDE) -> Image.Image:
    """Accept a PIL image (any mode) or a numpy array (H, W), (H, W, 1/3/4) of any depth (bool, 8/16-bit, float);
    return an 8-bit PIL image no larger than max_side on its longer side."""
    if image is None:
        raise EmptyImageError("No image was given.")
    if isinstance(image, Image.Image):
        try:
            image.load()  # a file is opened lazily: a damaged one fails here, not deep inside a model's code
        except (OSError, Image.DecompressionBombError) as error:
            raise PictureFileError("The image file is damaged or incomplete.", "damaged") from error
        pil = _eight_bit(image)
    else:
        pil = Image.fromarray(_eight_bit_array(np.asarray(image)))
    if max(pil.size) > max_side:
        pil = pil.copy()
        pil.thumbnail((max_side, max_side), Image.LANCZOS)
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


def frame_object(
    pixels: np.ndarray, mask: np.ndarray, size: int, margin: int, background=0.0, resample=Image.LANCZOS
) -> np.ndarray:
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

    Transparent pixels count as background. A drawing's strokes may come as opaque black on a transparent
    canvas, where a plain L conversion would be all black; drawings and photos with a light background are
    inverted so that the object is bright, as Fashion-MNIST's garments are.
    """
    pil = to_pil(image)
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        rgba = np.asarray(pil.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3]
        if alpha.max() == 0:
            raise EmptyImageError("The image is fully transparent.")
        luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        if alpha.min() < 1.0:
            # Ink is whatever is opaque and dark; opaque light strokes (a white pen) count by their opacity.
            ink = alpha * (1.0 - luminance)
            return ink if ink.max() >= 0.05 else alpha
        gray = luminance
    else:
        gray = np.asarray(pil.convert("L"), dtype=np.float64) / 255.0
    if gray.max() - gray.min() < 1e-3:
        raise EmptyImageError("The image is a single flat colour: it shows no object.")
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
        raise EmptyImageError("The image holds no visible object: its contrast is too low.")
    framed = ink if ink.shape == (size, size) else frame_object(ink, mask, size, margin)
    return torch.from_numpy(framed).float().clamp(0, 1).view(1, 1, size, size)


def to_colour_input(
    image, size: int, margin: int = 2, background: tuple[float, float, float] | None = None
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
        raise EmptyImageError("The picture is a single flat colour: it shows no object.")
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


# --- a garment or a picture, for a model trained on both sets (CLIP) ------------------------------------------

READ_AS = ("auto", "garment", "picture")  # how to_garment_or_picture frames an image
SMALL_MODEL_INPUT_SIDE = 512  # larger images are shrunk first: a model of 64 px sees no more


def is_colourful(image) -> bool:
    """True when the visible pixels carry colour (an emoji, a photo); False for grey garments and pen drawings."""
    rgba = to_pil(image, SMALL_MODEL_INPUT_SIDE).convert("RGBA")
    pixels = np.asarray(rgba.resize((64, 64), Image.BILINEAR), dtype=np.float32) / 255  # numpy: the page asks too
    visible = pixels[..., 3] > 0.5
    if not visible.any():
        return False
    rgb = pixels[..., :3][visible]
    saturation = rgb.max(axis=1) - rgb.min(axis=1)
    return float((saturation > 0.2).mean()) > 0.1


def to_garment_or_picture(image, picture_size: int, read_as: str = "auto") -> torch.Tensor:
    """Any image -> a garment framed like Fashion-MNIST (1, 1, 28, 28), bright on black, or a picture on white, cropped
    to its content and centred like the emoji (1, 3, picture_size, picture_size): what CLIP was trained on.

    read_as: "garment", "picture", or "auto" (colourful images are pictures; grey ones, pen drawings included, are
    garments, so a grey emoji needs "picture")."""
    if read_as not in READ_AS:
        raise ValueError(f"Read the image as one of {', '.join(READ_AS)}, not {read_as!r}.")
    pil = to_pil(image, SMALL_MODEL_INPUT_SIDE)
    if read_as == "garment" or (read_as == "auto" and not is_colourful(pil)):
        return to_model_input(pil)
    return to_colour_input(pil, picture_size, margin=2, background=(1.0, 1.0, 1.0))  # the emoji are on white
