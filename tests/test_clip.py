"""CLIP: the contrastive loss, the tokenizer and its vocabulary, input routing, the bundled model's zero-shot floor,
and the tab's handlers."""

from __future__ import annotations

import math

import gradio as gr
import numpy as np
import pytest
import torch
from transformers import CLIPModel, PreTrainedTokenizerFast

from core import clip
from core.captions import fashion_caption, fill_template
from core.datasets import load_sample
from core.emoji import load_emoji_sample
from core.images import is_colourful, to_garment_or_picture
from core.metrics import accuracy
from demos import clip as tab
from demos.common import sample_image
from tests.conftest import rgba_drawing


@pytest.mark.fast
def test_contrastive_loss_is_low_on_a_clean_diagonal_and_log_n_when_blind():
    n = 8
    assert clip.contrastive_loss(torch.eye(n) * 50).item() < 1e-6
    assert clip.contrastive_loss(torch.zeros(n, n)).item() == pytest.approx(math.log(n))
    # symmetric: the same for the transposed matrix
    logits = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    assert clip.contrastive_loss(logits).item() == pytest.approx(clip.contrastive_loss(logits.T).item())


@pytest.mark.fast
def test_recall_at_k():
    similarity = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.1], [0.1, 0.2, 0.0]])  # row i's own image is column i
    assert clip.recall_at_k(similarity, 1) == pytest.approx(1 / 3)
    assert clip.recall_at_k(similarity, 2) == pytest.approx(2 / 3)
    assert clip.recall_at_k(similarity, 3) == 1.0


@pytest.mark.fast
def test_tokenizer_knows_only_its_captions_and_ends_with_eos():
    tokenizer = clip.build_tokenizer(["a photo of a T-shirt/top", "a red apple"])
    encoded = tokenizer(["a photo of a t-shirt/top", "a purple apple"], padding=True)["input_ids"]
    assert encoded[0][0] == 2 and encoded[0][encoded[0].index(3) - 1] == tokenizer.get_vocab()["top"]
    assert tokenizer.get_vocab()["<unk>"] in encoded[1]
    assert clip.unknown_words(tokenizer, "A Purple apple!") == ["purple", "!"]
    assert clip.words("a t-shirt/top") == ["a", "t", "-", "shirt", "/", "top"]


@pytest.mark.fast
def test_tokenizer_round_trips_through_a_folder(tmp_path):
    tokenizer = clip.build_tokenizer(["a photo of a coat"])
    tokenizer.save_pretrained(str(tmp_path))
    again = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))
    assert again("a coat")["input_ids"] == tokenizer("a coat")["input_ids"]


@pytest.mark.fast
def test_the_model_pools_at_the_eos_token():
    tokenizer = clip.build_tokenizer(["a photo of a coat", "a bag"])
    model = CLIPModel(clip.clip_config(len(tokenizer))).eval()
    assert model.config.text_config.eos_token_id == tokenizer.eos_token_id == 3
    bundle = clip.CLIPBundle(model, tokenizer)
    tokens = bundle.tokenize(["a bag", "a photo of a coat"])
    with torch.inference_mode():
        out = model.text_model(**tokens)
        eos = (tokens["input_ids"][0] == 3).nonzero()[0, 0]
        assert torch.allclose(out.pooler_output[0], out.last_hidden_state[0, eos], atol=1e-6)
        alone = bundle.embed_texts(["a bag"])
        padded = bundle.embed_texts(["a bag", "a photo of a coat"])[:1]  # padding after <eos> must not matter
    assert torch.allclose(alone, padded, atol=1e-5)


@pytest.mark.fast
def test_a_typed_eos_is_text_not_the_end():
    tokenizer = clip.build_tokenizer(["a coat", "an apple"])
    bundle = clip.CLIPBundle(CLIPModel(clip.clip_config(len(tokenizer))).eval(), tokenizer)
    ids = bundle.tokenize(["a coat <eos> apple"])["input_ids"][0].tolist()
    assert ids.count(3) == 1 and ids[-1] == 3


@pytest.mark.fast
def test_unknown_words_follow_the_tokenizers_normalisation():
    tokenizer = clip.build_tokenizer(["a coat"])
    assert clip.unknown_words(tokenizer, "A ＣＯＡＴ") == []
    assert clip.unknown_words(tokenizer, "a <eos>") == ["<", "eos", ">"]


@pytest.mark.fast
@pytest.mark.parametrize(
    "template, expected",
    [
        ("a photo of a {}", "a photo of a coat"),
        ("a photo of a {class}", "a photo of a coat"),
        ("{x} a {}", "{x} a coat"),
        ("{0} {}", "{0} coat"),
    ],
)
def test_templates_are_filled_literally(template, expected):
    assert fill_template(template, "coat") == expected


@pytest.mark.fast
def test_soft_targets_reduce_to_the_diagonal_and_forgive_identical_captions():
    logits = torch.randn(6, 6, generator=torch.Generator().manual_seed(1))
    assert clip.contrastive_loss(logits, torch.eye(6, dtype=torch.bool)).item() == pytest.approx(
        clip.contrastive_loss(logits).item(), rel=1e-6
    )
    # two images with the same caption: confusing them costs nothing extra
    same = torch.eye(4, dtype=torch.bool)
    same[0, 1] = same[1, 0] = True
    blocky = torch.full((4, 4), -20.0)
    blocky[:2, :2] = 20.0
    blocky[2, 2] = blocky[3, 3] = 20.0
    assert clip.contrastive_loss(blocky, same).item() == pytest.approx(math.log(2) / 2, abs=1e-3)


@pytest.mark.fast
def test_every_gallery_emoji_is_read_as_a_picture():
    for image in tab.emoji_examples().values():
        assert to_garment_or_picture(image, clip.INPUT_SIZE).shape == (1, 3, 64, 64)


@pytest.mark.fast
def test_read_as_overrides_the_guess():
    grey = [i for i, im in enumerate(load_emoji_sample().images) if not is_colourful(im)]
    image = load_emoji_sample().images[grey[0]]
    assert to_garment_or_picture(image, clip.INPUT_SIZE).shape == (1, 1, 28, 28)
    assert to_garment_or_picture(image, clip.INPUT_SIZE, "picture").shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="Read the image as"):
        to_garment_or_picture(image, clip.INPUT_SIZE, "sideways")


@pytest.mark.fast
def test_huge_uploads_are_shrunk_first():
    big = np.full((3000, 2500, 3), 255, dtype=np.uint8)
    big[1000:2000, 800:1700] = (200, 30, 30)
    assert to_garment_or_picture(big, clip.INPUT_SIZE).shape == (1, 3, 64, 64)


@pytest.mark.fast
def test_grey_images_are_garments_and_colour_pictures_stay_colour():
    assert to_garment_or_picture(sample_image(3), clip.INPUT_SIZE).shape == (1, 1, 28, 28)
    assert to_garment_or_picture(rgba_drawing(strokes=[(40, 100, 240, 180)]), clip.INPUT_SIZE).shape == (1, 1, 28, 28)
    emoji = load_emoji_sample()
    colourful = [i for i in range(len(emoji)) if is_colourful(emoji.images[i])]
    x = to_garment_or_picture(emoji.images[colourful[0]], clip.INPUT_SIZE)
    assert x.shape == (1, 3, 64, 64) and x[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]  # white margin


# --- the bundled model --------------------------------------------------------------------------------------


def test_zero_shot_accuracy_on_the_sample_meets_the_floor(sample_tensors):
    x, y = sample_tensors
    with torch.inference_mode():
        predictions = clip.zero_shot_predictions(clip.load_bundle(), x, "a photo of a {}")
    assert accuracy(predictions, y) >= 0.80


def test_held_out_emoji_names_retrieve_their_images_better_than_chance():
    bundle = clip.load_bundle()
    emoji = load_emoji_sample()
    with torch.inference_mode():
        similarity = clip.cosine_similarities(
            bundle.embed_texts(list(emoji.names)), bundle.embed_images(emoji.tensors())
        )
    chance_at_5 = 5 / len(emoji)
    assert clip.recall_at_k(similarity, 5) > 3 * chance_at_5


# --- handlers -------------------------------------------------------------------------------------------------


def test_score_ranks_the_right_garment_first():
    label, table, note = tab.score(sample_image(7), "a photo of a sneaker\na photo of a trouser\na photo of a bag")
    assert max(label, key=label.get) == "a photo of a sneaker"  # example 7 is the sneaker
    assert sum(label.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(table.columns) == ["text", "cosine similarity", "exp(t) × cosine", "probability"]
    assert "temperature" in note
    bundle = clip.load_bundle()
    expected = torch.softmax(bundle.logit_scale * torch.tensor(table["cosine similarity"].values), dim=0)
    assert np.allclose(table["probability"].values, expected.numpy(), atol=2e-3)  # the table is rounded


def test_every_training_caption_uses_known_words():
    import random

    bundle = clip.load_bundle()
    rng = random.Random(0)
    x, y = load_sample().tensors()
    captions = [fashion_caption(int(label), image, rng) for label, image in zip(y[:200], x[:200])]
    assert not [c for c in captions if clip.unknown_words(bundle.tokenizer, c)]


def test_unknown_words_are_flagged():
    _, _, note = tab.score(sample_image(1), "a photo of a trouser\na photo of a xylophone")
    assert "xylophone" in note and "never" in note


def test_similarity_matrix_and_zero_shot_render():
    matrix, text = tab.similarity_matrix()
    assert matrix.size[0] > 400 and "pick their own image" in text
    summary, confusion = tab.zero_shot("a photo of a {}")
    assert "Zero-shot accuracy" in summary and confusion.size[0] == confusion.size[1]


@pytest.mark.fast
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tab.score(None, "a coat"), "No image"),
        (lambda: tab.score(sample_image(0), ""), "at least one text"),
        (lambda: tab.score(sample_image(0), "\n".join(f"text {i}" for i in range(30))), "At most 20"),
        (lambda: tab.score(sample_image(0), "a" * 500), "at most 200 characters"),
        (lambda: tab.score(sample_image(0), "a coat\na coat"), "same text"),
        (lambda: tab.score(np.zeros((0, 0)), "a coat"), "Cannot read"),
        (lambda: tab.zero_shot("a photo"), "exactly once"),
        (lambda: tab.zero_shot("{} {}"), "exactly once"),
        (lambda: tab.zero_shot("{class} {}"), "exactly once"),
        (lambda: tab.score(sample_image(0), "a coat", "sideways"), "Read the image as"),
    ],
)
def test_bad_input_gets_a_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


def test_zero_shot_accepts_the_issues_wording():
    summary, _ = tab.zero_shot("a photo of a {class}")
    assert "a photo of a ankle boot" in summary


@pytest.mark.fast
def test_bad_input_is_reported_even_without_a_checkpoint(empty_checkpoints):
    with pytest.raises(gr.Error, match="at least one text"):
        tab.score(sample_image(0), "")


@pytest.mark.fast
def test_missing_checkpoint_names_the_recipe(empty_checkpoints):
    with pytest.raises(gr.Error, match="python -m core.train clip"):
        tab.score(sample_image(0), "a coat")
