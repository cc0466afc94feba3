"""The colour set: Noto Color Emoji rendered with Pillow, each captioned by its Unicode name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.datasets import DatasetNotFoundError
from core.lazy import lazy_import

torch = lazy_import("torch")  # imported on first use: the page is drawn before torch loads (core/lazy.py)

EMOJI_FONT_PATHS = (Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),)  # Debian fonts-noto-color-emoji
EMOJI_FONT_SIZE = 109  # the font's only bitmap size
EMOJI_SIZE = 64
_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2B00, 0x2BFF),
    (0x2190, 0x21FF),
    (0x2300, 0x23FF),
    (0x25A0, 0x25FF),
    (0x2100, 0x214F),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0xA9, 0xAE),
    (0x203C, 0x2049),
)


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

    def take(self, n: int) -> EmojiSet:
        return EmojiSet(self.images[:n], self.names[:n], self.codepoints[:n])

    def split(self, part: str) -> EmojiSet:
        """A fixed split by codepoint: every tenth emoji is held out ('test'), the rest is 'train'."""
        keep = [i for i, cp in enumerate(self.codepoints) if (cp % 10 == 7) == (part == "test")]
        return EmojiSet(self.images[keep], tuple(self.names[i] for i in keep), tuple(self.codepoints[i] for i in keep))


def emoji_font_path() -> Path:
    for path in (Path(os.environ["EMOJI_FONT"]),) if os.environ.get("EMOJI_FONT") else EMOJI_FONT_PATHS:
        if path.is_file():
            return path
    raise DatasetNotFoundError(
        "Noto Color Emoji not found. Install it with `apt-get install fonts-noto-color-emoji`, "
        "or point $EMOJI_FONT at NotoColorEmoji.ttf."
    )


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
    np.savez_compressed(
        path,
        images=held_out.images,
        names=np.array(held_out.names),
        codepoints=np.array(held_out.codepoints, dtype=np.int64),
    )
    return held_out


def load_emoji_sample() -> EmojiSet:
    """The bundled held-out emoji: never seen by the recipes that train on the colour set."""
    with np.load(EMOJI_SAMPLE_PATH) as archive:
        return EmojiSet(
            archive["images"].copy(),
            tuple(str(n) for n in archive["names"]),
            tuple(int(c) for c in archive["codepoints"]),
        )


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
