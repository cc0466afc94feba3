"""CLIP (Radford et al. 2021), small and trained from scratch: contrastive language-image pre-training.

An image encoder f and a text encoder g map an image I and a caption T to unit vectors. For a batch of N pairs the
N x N matrix of scaled cosine similarities

    logits_ij = exp(t) * <f(I_i), g(T_j)>        (exp(t) = 1 / temperature, learned)

should be largest on its diagonal; the symmetric contrastive loss is the mean of the cross-entropy over rows
(each image picks its caption) and over columns (each caption picks its image). Zero-shot classification embeds
one prompt per class, "a photo of a {class}", and picks the class whose prompt is most similar to the image.

The model is transformers' `CLIPModel` with a small config (a ViT over 8x8 patches of 64x64 images and a causal text
transformer); its tokenizer is a word-level `tokenizers` model built from the training captions, so it knows only
the words it was trained on: `unknown_words` says which words of a text it has never seen.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.checkpoints import CheckpointError, checkpoint_path, load_model, rebuild_command
from core.datasets import FASHION_CLASSES
from core.images import to_colour_input, to_model_input, to_pil
from core.runtime import MODELS

if TYPE_CHECKING:
    from transformers import CLIPConfig, CLIPModel, PreTrainedTokenizerFast

IMAGE_SIZE = 64
MAX_TEXT_TOKENS = 32  # <bos> + words + <eos>; longer texts are cut, and the tab says so
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"  # ids 0-3; EOS is not 2, so CLIP pools at the <eos> token
ZERO_SHOT_TEMPLATE = "a photo of a {}"
CLASS_PROMPT_NAMES = tuple(name.lower() for name in FASHION_CLASSES)  # "t-shirt/top", ..., "ankle boot"
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")  # what the tokenizer's pre-tokenizer splits a text into


@dataclass(frozen=True)
class CLIPSize:
    hidden: int = 128  # width of both transformers
    layers: int = 4  # blocks in each transformer
    heads: int = 4
    mlp: int = 512  # feed-forward width
    patch: int = 8  # 64x64 images -> 8x8 = 64 patches
    projection: int = 128  # size of the shared embedding space
    temperature: float = 0.07  # initial temperature, as in the paper (logit scale = log(1 / 0.07))


def clip_config(vocab_size: int, size: CLIPSize = CLIPSize()) -> CLIPConfig:
    from transformers import CLIPConfig  # imported on use: transformers adds seconds to the app's cold start

    common = dict(hidden_size=size.hidden, intermediate_size=size.mlp, num_hidden_layers=size.layers,
                  num_attention_heads=size.heads)
    return CLIPConfig(
        text_config=dict(vocab_size=vocab_size, max_position_embeddings=MAX_TEXT_TOKENS, pad_token_id=0,
                         bos_token_id=2, eos_token_id=3, **common),
        vision_config=dict(image_size=IMAGE_SIZE, patch_size=size.patch, num_channels=3, **common),
        projection_dim=size.projection, logit_scale_init_value=float(torch.tensor(1 / size.temperature).log()))


# --- text -----------------------------------------------------------------------------------------------------

def words(text: str) -> list[str]:
    """The units the tokenizer sees: lower-cased words and single punctuation marks."""
    return WORD_PATTERN.findall(text.lower())


def build_tokenizer(captions: Iterable[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over every word of the captions; anything else becomes <unk>."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocabulary = {token: i for i, token in enumerate((PAD, UNK, BOS, EOS))}
    for caption in captions:
        for word in words(caption):
            vocabulary.setdefault(word, len(vocabulary))
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    # keep exactly the pieces WORD_PATTERN finds (words, single punctuation marks), drop the whitespace
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(WORD_PATTERN.pattern), behavior="removed", invert=True)
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{BOS} $A {EOS}",
                                                              special_tokens=[(BOS, 2), (EOS, 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, unk_token=UNK, bos_token=BOS,
                                   eos_token=EOS, model_max_length=MAX_TEXT_TOKENS)


def unknown_words(tokenizer: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Words of `text` that the tokenizer maps to <unk>: the bundled model has never seen them. The text is normalised
    as the tokenizer does (NFKC, lower case), so full-width or capitalised known words are not flagged."""
    vocabulary = tokenizer.get_vocab()
    normalised = tokenizer.backend_tokenizer.normalizer.normalize_str(text)
    return [word for word in words(normalised) if word not in vocabulary or word in (PAD, UNK, BOS, EOS)]


def fill_template(template: str, class_name: str) -> str:
    """'a photo of a {}' (or '{class}') with the class name in place; literal text otherwise, never str.format."""
    return template.replace("{class}", "{}").replace("{}", class_name)


def class_prompt(name: str) -> str:
    """ "a photo of a {class}", with "an" before a vowel (the text encoder knows both)."""
    article = "an" if name[0] in "aeiou" else "a"
    return fill_template(ZERO_SHOT_TEMPLATE.replace("a {}", f"{article} {{}}"), name)


# --- images ---------------------------------------------------------------------------------------------------

def to_pixel_values(images: torch.Tensor) -> torch.Tensor:
    """(B, 1 or 3, H, W) in [0, 1] -> (B, 3, 64, 64) in [-1, 1], what the vision transformer takes."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-1] != IMAGE_SIZE or images.shape[-2] != IMAGE_SIZE:
        images = F.interpolate(images, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True,
                               align_corners=False)
    return images * 2 - 1


# --- the loss and the scores ----------------------------------------------------------------------------------

def clip_logits(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """logits_ij = exp(t) * cos(f(I_i), g(T_j)), (images, texts); exp(t) clamped at 100 as in the paper."""
    similarity = F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T
    return logit_scale.exp().clamp(max=100) * similarity


def contrastive_loss(logits_per_image: torch.Tensor, same_caption: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE: (CE(rows, diagonal) + CE(columns, diagonal)) / 2 for an N x N logit matrix.

    `same_caption` (N, N, bool), when given, marks pairs whose captions are identical: they are not negatives of
    each other, so each row's target is spread evenly over them (with 10 garment classes a batch holds many)."""
    if same_caption is None:
        targets = torch.arange(len(logits_per_image), device=logits_per_image.device)
        return (F.cross_entropy(logits_per_image, targets) + F.cross_entropy(logits_per_image.T, targets)) / 2
    targets = same_caption.float() / same_caption.float().sum(dim=1, keepdim=True)  # symmetric, rows sum to 1
    return (F.cross_entropy(logits_per_image, targets) + F.cross_entropy(logits_per_image.T, targets)) / 2


def recall_at_k(similarity: torch.Tensor, k: int) -> float:
    """Text -> image retrieval: the share of texts (rows) whose own image (same index) ranks in the top k."""
    top = similarity.topk(min(k, similarity.shape[1]), dim=1).indices
    own = torch.arange(len(similarity), device=similarity.device).unsqueeze(1)
    return (top == own).any(dim=1).float().mean().item()


@dataclass
class CLIPBundle:
    """The model and its tokenizer, with the three operations the tab needs."""

    model: CLIPModel
    tokenizer: PreTrainedTokenizerFast

    @property
    def logit_scale(self) -> float:
        """exp(t) = 1 / temperature, clamped at 100 as in the paper."""
        return self.model.logit_scale.exp().clamp(max=100).item()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids on the model's device. A typed "<eos>" is text, not the special token (CLIP pools at the first
        <eos>: a typed one would cut the text short)."""
        encoded = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TEXT_TOKENS,
                                 return_tensors="pt", return_token_type_ids=False, split_special_tokens=True)
        return {key: value.to(self.model.device) for key, value in encoded.items()}

    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """g(T) before normalisation, (len(texts), projection)."""
        return self.model.get_text_features(**self.tokenize(texts)).pooler_output

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        """f(I) before normalisation, (B, projection), for images (B, 1 or 3, H, W) in [0, 1] (any mix of kinds
        must be converted by the caller: to_pixel_values takes one kind at a time)."""
        pixels = to_pixel_values(images.to(self.model.device))
        return self.model.get_image_features(pixel_values=pixels).pooler_output

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit vectors g(T), (len(texts), projection)."""
        return F.normalize(self.text_features(texts), dim=-1)

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unit vectors f(I), (B, projection)."""
        return F.normalize(self.image_features(images), dim=-1)


def cosine_similarities(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    """<f(I_i), g(T_j)> for unit vectors: (images, texts), each in [-1, 1]."""
    return image_embeddings @ text_embeddings.T


def text_probabilities(similarities: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """softmax_j(exp(t) * cos_ij): how CLIP turns similarities into a choice among the given texts."""
    return (logit_scale * similarities).softmax(dim=-1)


def zero_shot_predictions(bundle: CLIPBundle, images: torch.Tensor, template: str = ZERO_SHOT_TEMPLATE,
                          class_names: Sequence[str] = CLASS_PROMPT_NAMES, batch_size: int = 500) -> torch.Tensor:
    """The class whose prompt fill_template(template, name) is most similar to each image: (B,) class indices."""
    prompts = bundle.embed_texts([fill_template(template, name) for name in class_names])
    return torch.cat([cosine_similarities(bundle.embed_images(chunk), prompts).argmax(dim=1).cpu()
                      for chunk in images.split(batch_size)])


# --- captions -------------------------------------------------------------------------------------------------

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
FASHION_TEMPLATES = ("a photo of a {}", "a {}", "a picture of a {}", "a black and white photo of a {}",
                     "an image of a {}", "a {} on a black background", "a small photo of a {}", "this is a {}",
                     "a photo of a {} from a catalogue", "a grey photo of a {}")
EMOJI_TEMPLATES = ("{}", "an emoji of {}", "a picture of {}", "a colourful picture of {}", "{} emoji",
                   "a cartoon of {}", "a colour icon of {}")


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
    return [t.format(n) for t in FASHION_TEMPLATES for n in nouns] + [ZERO_SHOT_TEMPLATE.format(n) for n in CLASS_PROMPT_NAMES]


# --- the bundled checkpoint -----------------------------------------------------------------------------------

def load_bundle(name: str = "clip") -> CLIPBundle:
    """The bundled CLIP and its tokenizer (same folder), cached."""

    def load() -> CLIPBundle:
        from transformers import CLIPModel, PreTrainedTokenizerFast

        model = load_model(CLIPModel, name)
        try:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(checkpoint_path(name)))
        except Exception as error:
            raise CheckpointError(f"The tokenizer of '{name}' could not be loaded ({error}). "
                                  f"Rebuild it with `{rebuild_command(name)}`.") from error
        return CLIPBundle(model, tokenizer)

    return MODELS.get(name, load)



# --- any image in ---------------------------------------------------------------------------------------------

READ_AS = ("auto", "garment", "picture")  # how to_clip_input frames an image
MAX_INPUT_SIDE = 512  # large uploads are shrunk first: the model sees 64 px anyway


def _bounded_pil(image) -> Image.Image:
    pil = to_pil(image)
    if max(pil.size) > MAX_INPUT_SIDE:
        pil = pil.copy()
        pil.thumbnail((MAX_INPUT_SIDE, MAX_INPUT_SIDE), Image.LANCZOS)
    return pil


def is_colourful(image) -> bool:
    """True when the visible pixels carry colour (an emoji, a photo); False for grey garments and pen drawings."""
    rgba = _bounded_pil(image).convert("RGBA")
    pixels = torch.from_numpy(np.array(rgba.resize((64, 64), Image.BILINEAR))).float() / 255
    visible = pixels[..., 3] > 0.5
    if not visible.any():
        return False
    rgb = pixels[..., :3][visible]
    saturation = rgb.max(dim=1).values - rgb.min(dim=1).values
    return (saturation > 0.2).float().mean().item() > 0.1


def to_clip_input(image, read_as: str = "auto") -> torch.Tensor:
    """Any image -> what the bundled CLIP was trained on: a garment framed like Fashion-MNIST (1, 1, 28, 28), bright
    on black, or a picture on white, cropped to its content and centred like the emoji (1, 3, 64, 64).

    read_as: "garment", "picture", or "auto" (colourful images are pictures; grey ones, pen drawings included, are
    garments, so a grey emoji needs "picture")."""
    if read_as not in READ_AS:
        raise ValueError(f"Read the image as one of {', '.join(READ_AS)}, not {read_as!r}.")
    pil = _bounded_pil(image)
    if read_as == "garment" or (read_as == "auto" and not is_colourful(pil)):
        return to_model_input(pil)
    return to_colour_input(pil, IMAGE_SIZE, margin=2, background=(1.0, 1.0, 1.0))  # CLIP saw emoji on white

