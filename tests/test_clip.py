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
from core.data import load_emoji_sample
from core.metrics import accuracy
from demos import clip as tab
from demos.common import sample_image
from tests.conftest import rgba_drawing


def test_contrastive_loss_is_low_on_a_clean_diagonal_and_log_n_when_blind():
    n = 8
    assert clip.contrastive_loss(torch.eye(n) * 50).item() < 1e-6
    assert clip.contrastive_loss(torch.zeros(n, n)).item() == pytest.approx(math.log(n))
    # symmetric: the same for the transposed matrix
    logits = torch.randn(n, n, generator=torch.Generator().manual_seed(0))
    assert clip.contrastive_loss(logits).item() == pytest.approx(clip.contrastive_loss(logits.T).item())


def test_recall_at_k():
    similarity = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.1], [0.1, 0.2, 0.0]])  # row i's own image is column i
    assert clip.recall_at_k(similarity, 1) == pytest.approx(1 / 3)
    assert clip.recall_at_k(similarity, 2) == pytest.approx(2 / 3)
    assert clip.recall_at_k(similarity, 3) == 1.0


def test_tokenizer_knows_only_its_captions_and_ends_with_eos():
    tokenizer = clip.build_tokenizer(["a photo of a T-shirt/top", "a red apple"])
    encoded = tokenizer(["a photo of a t-shirt/top", "a purple apple"], padding=True)["input_ids"]
    assert encoded[0][0] == 2 and encoded[0][encoded[0].index(3) - 1] == tokenizer.get_vocab()["top"]
    assert tokenizer.get_vocab()["<unk>"] in encoded[1]
    assert clip.unknown_words(tokenizer, "A Purple apple!") == ["purple", "!"]
    assert clip.words("a t-shirt/top") == ["a", "t", "-", "shirt", "/", "top"]


def test_tokenizer_round_trips_through_a_folder(tmp_path):
    tokenizer = clip.build_tokenizer(["a photo of a coat"])
    tokenizer.save_pretrained(str(tmp_path))
    again = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))
    assert again("a coat")["input_ids"] == tokenizer("a coat")["input_ids"]


def test_the_model_pools_at_the_eos_token():
    tokenizer = clip.build_tokenizer(["a photo of a coat", "a bag"])
    model = CLIPModel(clip.clip_config(len(tokenizer))).eval()
    bundle = clip.CLIPBundle(model, tokenizer)
    with torch.inference_mode():
        alone = bundle.embed_texts(["a bag"])
        padded = bundle.embed_texts(["a bag", "a photo of a coat"])[:1]  # padding after <eos> must not matter
    assert torch.allclose(alone, padded, atol=1e-5)


def test_grey_images_are_garments_and_colour_pictures_stay_colour():
    assert clip.to_clip_input(sample_image(3)).shape == (1, 1, 28, 28)
    assert clip.to_clip_input(rgba_drawing(strokes=[(40, 100, 240, 180)])).shape == (1, 1, 28, 28)
    emoji = load_emoji_sample()
    colourful = [i for i in range(len(emoji)) if clip.is_colourful(emoji.images[i])]
    x = clip.to_clip_input(emoji.images[colourful[0]])
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
        similarity = clip.cosine_similarities(bundle.embed_texts(list(emoji.names)), bundle.embed_images(emoji.tensors()))
    chance_at_5 = 5 / len(emoji)
    assert clip.recall_at_k(similarity, 5) > 3 * chance_at_5


# --- handlers -------------------------------------------------------------------------------------------------

def test_score_ranks_the_right_garment_first():
    label, table, note = tab.score(sample_image(7), "a photo of a sneaker\na photo of a trouser\na photo of a bag")
    assert max(label, key=label.get) == "a photo of a sneaker"  # example 7 is the sneaker
    assert sum(label.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(table.columns) == ["text", "cosine similarity", "exp(t) × cosine", "probability"]
    assert "temperature" in note


def test_unknown_words_are_flagged():
    _, _, note = tab.score(sample_image(1), "a photo of a trouser\na photo of a xylophone")
    assert "xylophone" in note and "never" in note


def test_similarity_matrix_and_zero_shot_render():
    matrix, text = tab.similarity_matrix()
    assert matrix.size[0] > 400 and "pick their own caption" in text
    summary, confusion = tab.zero_shot("a photo of a {}")
    assert "Zero-shot accuracy" in summary and confusion.size[0] == confusion.size[1]


@pytest.mark.parametrize("call, message", [
    (lambda: tab.score(None, "a coat"), "No image"),
    (lambda: tab.score(sample_image(0), ""), "at least one text"),
    (lambda: tab.score(sample_image(0), "\n".join(f"text {i}" for i in range(30))), "At most 20"),
    (lambda: tab.score(sample_image(0), "a" * 500), "at most 200 characters"),
    (lambda: tab.score(sample_image(0), "a coat\na coat"), "same text"),
    (lambda: tab.score(np.zeros((0, 0)), "a coat"), "Cannot read"),
    (lambda: tab.zero_shot("a photo"), "exactly once"),
    (lambda: tab.zero_shot("{} {}"), "exactly once"),
])
def test_bad_input_gets_a_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


def test_missing_checkpoint_names_the_recipe(empty_checkpoints):
    with pytest.raises(gr.Error, match="python -m core.train clip"):
        tab.score(sample_image(0), "a coat")
