"""CLIP (Radford et al. 2021), small and trained from scratch: contrastive language-image pre-training.

An image encoder f and a text encoder g map an image I and a caption T to unit vectors. For a batch of N pairs the
N x N matrix of scaled cosine similarities

    logits_ij = exp(t) * <f(I_i), g(T_j)>        (exp(t) = 1 / temperature, learned)

should be largest on its diagonal; the symmetric contrastive loss is the mean of the cross-entropy over rows
(each image picks its caption) and over columns (each caption picks its image). Zero-shot classification embeds
one prompt per class, "a photo of a {class}", and picks the class whose prompt is most similar to the image.

The model is transformers' `CLIPModel` with a small config (a ViT over 8x8 patches of 64x64 images and a causal text
transformer); its tokenizer is a word-level `tokenizers` model built from the training captions, so it knows only
the words it was trained on (core/captions.py makes them): `unknown_words` says which words of a text it has never
seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from core.captions import CLASS_PROMPT_NAMES, ZERO_SHOT_TEMPLATE, fill_template
from core.checkpoints import CheckpointError, checkpoint_path, load_model, rebuild_command
from core.runtime import MODELS

if TYPE_CHECKING:
    from transformers import CLIPConfig, CLIPModel, PreTrainedTokenizerFast

INPUT_SIZE = 64  # the vision transformer's input side: the emoji's (garments are scaled up to it)
MAX_TEXT_TOKENS = 32  # <bos> + words + <eos>; longer texts are cut
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"  # ids 0-3; EOS is not 2, so CLIP pools at the <eos> token
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

    common = dict(
        hidden_size=size.hidden,
        intermediate_size=size.mlp,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
    )
    return CLIPConfig(
        text_config=dict(
            vocab_size=vocab_size,
            max_position_embeddings=MAX_TEXT_TOKENS,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            **common,
        ),
        vision_config=dict(image_size=INPUT_SIZE, patch_size=size.patch, num_channels=3, **common),
        projection_dim=size.projection,
        logit_scale_init_value=float(torch.tensor(1 / size.temperature).log()),
    )


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
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, 2), (EOS, 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        model_max_length=MAX_TEXT_TOKENS,
    )


def unknown_words(tokenizer: PreTrainedTokenizerFast, text: str) -> list[str]:
    """Words of `text` that the tokenizer maps to <unk>: the bundled model has never seen them. The text is normalised
    as the tokenizer does (NFKC, lower case), so full-width or capitalised known words are not flagged."""
    vocabulary = tokenizer.get_vocab()
    normalised = tokenizer.backend_tokenizer.normalizer.normalize_str(text)
    return [word for word in words(normalised) if word not in vocabulary or word in (PAD, UNK, BOS, EOS)]


# --- images ---------------------------------------------------------------------------------------------------


def to_pixel_values(images: torch.Tensor) -> torch.Tensor:
    """(B, 1 or 3, H, W) in [0, 1] -> (B, 3, 64, 64) in [-1, 1], what the vision transformer takes."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-1] != INPUT_SIZE or images.shape[-2] != INPUT_SIZE:
        images = F.interpolate(
            images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False
        )
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
    """The model and its tokenizer, with the operations that embed texts and images."""

    model: CLIPModel
    tokenizer: PreTrainedTokenizerFast

    @property
    def logit_scale(self) -> float:
        """exp(t) = 1 / temperature, clamped at 100 as in the paper."""
        return self.model.logit_scale.exp().clamp(max=100).item()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids on the model's device. A typed "<eos>" is text, not the special token (CLIP pools at the first
        <eos>: a typed one would cut the text short)."""
        encoded = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=MAX_TEXT_TOKENS,
            return_tensors="pt",
            return_token_type_ids=False,
            split_special_tokens=True,
        )
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


def zero_shot_predictions(
    bundle: CLIPBundle,
    images: torch.Tensor,
    template: str = ZERO_SHOT_TEMPLATE,
    class_names: Sequence[str] = CLASS_PROMPT_NAMES,
    batch_size: int = 500,
) -> torch.Tensor:
    """The class whose prompt fill_template(template, name) is most similar to each image: (B,) class indices."""
    prompts = bundle.embed_texts([fill_template(template, name) for name in class_names])
    return torch.cat(
        [
            cosine_similarities(bundle.embed_images(chunk), prompts).argmax(dim=1).cpu()
            for chunk in images.split(batch_size)
        ]
    )


# --- the bundled checkpoint -----------------------------------------------------------------------------------


def load_bundle(name: str = "clip") -> CLIPBundle:
    """The bundled CLIP and its tokenizer (same folder), cached."""

    def load() -> CLIPBundle:
        from transformers import CLIPModel, PreTrainedTokenizerFast

        model = load_model(CLIPModel, name)
        try:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(checkpoint_path(name)))
        except Exception as error:
            raise CheckpointError(
                f"The tokenizer of '{name}' could not be loaded ({error}). Rebuild it with `{rebuild_command(name)}`."
            ) from error
        return CLIPBundle(model, tokenizer)

    return MODELS.get(name, load)
