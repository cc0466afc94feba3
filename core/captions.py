"""The words of the CLIP lecture: zero-shot prompts ("a photo of a {class}") and the varied training captions.

A garment's caption is a template, a synonym of its class and sometimes its brightness ("a photo of a dark coat");
an emoji's is a template around its Unicode name. The tokenizer's vocabulary is every word these can produce.
"""

from __future__ import annotations

import random

from core.datasets import FASHION_CLASSES
from core.lazy import lazy_import

torch = lazy_import("torch")  # imported on first use: the page is drawn before torch loads (core/lazy.py)

ZERO_SHOT_TEMPLATE = "a photo of a {}"
CLASS_PROMPT_NAMES = tuple(name.lower() for name in FASHION_CLASSES)  # "t-shirt/top", ..., "ankle boot"


def fill_template(template: str, class_name: str) -> str:
    """'a photo of a {}' (or '{class}') with the class name in place; literal text otherwise, never str.format."""
    return template.replace("{class}", "{}").replace("{}", class_name)


def class_prompt(name: str) -> str:
    """ "a photo of a {class}", with "an" before a vowel (the text encoder knows both)."""
    article = "an" if name[0] in "aeiou" else "a"
    return fill_template(ZERO_SHOT_TEMPLATE.replace("a {}", f"{article} {{}}"), name)


# --- training captions ----------------------------------------------------------------------------------------

SYNONYMS = {  # every class's own name first, then words a person would use for the same garments
    "T-shirt/top": ("t-shirt/top", "t-shirt", "tee", "top"),
    "Trouser": ("trouser", "trousers", "pair of trousers", "pants"),
    "Pullover": ("pullover", "sweater", "jumper"),
    "Dress": ("dress", "frock"),
    "Coat": ("coat", "jacket"),
    "Sandal": ("sandal", "open shoe"),
    "Shirt": ("shirt", "button-up shirt", "blouse"),
    "Sneaker": ("sneaker", "trainer", "running shoe"),
    "Bag": ("bag", "handbag", "purse"),
    "Ankle boot": ("ankle boot", "boot"),
}
FASHION_TEMPLATES = (
    "a photo of a {}",
    "a {}",
    "a picture of a {}",
    "a black and white photo of a {}",
    "an image of a {}",
    "a {} on a black background",
    "a small photo of a {}",
    "this is a {}",
    "a photo of a {} from a catalogue",
    "a grey photo of a {}",
)
EMOJI_TEMPLATES = (
    "{}",
    "an emoji of {}",
    "a picture of {}",
    "a colourful picture of {}",
    "{} emoji",
    "a cartoon of {}",
    "a colour icon of {}",
)


def brightness_word(image: torch.Tensor) -> str | None:
    """An attribute read off the pixels: "dark" or "light" garment (mean ink over the garment), else None."""
    ink = image[image > 0.1]
    if ink.numel() == 0:
        return None
    mean = ink.mean().item()
    return "dark" if mean < 0.35 else "light" if mean > 0.7 else None


def fashion_caption(label: int, image: torch.Tensor, rng: random.Random) -> str:
    """A varied, honest caption: a template, a synonym of the class, sometimes the garment's brightness."""
    noun = rng.choice(SYNONYMS[FASHION_CLASSES[label]])
    attribute = brightness_word(image)
    if attribute is not None and rng.random() < 0.3:
        noun = f"{attribute} {noun}"
    return rng.choice(FASHION_TEMPLATES).format(noun)


def emoji_caption(name: str, rng: random.Random) -> str:
    return rng.choice(EMOJI_TEMPLATES).format(name)


def all_caption_words() -> list[str]:
    """Every caption form the recipes can produce for Fashion-MNIST (the emoji names are added by the recipe)."""
    nouns = [n for names in SYNONYMS.values() for n in names]
    nouns += [f"{a} {n}" for a in ("dark", "light") for n in nouns]
    return [t.format(n) for t in FASHION_TEMPLATES for n in nouns] + [
        ZERO_SHOT_TEMPLATE.format(n) for n in CLASS_PROMPT_NAMES
    ]
