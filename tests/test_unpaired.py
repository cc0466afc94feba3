"""Unpaired translation: the lecture's cycle loss, the least-squares adversarial terms, the bundled sneakers <->
ankle boots model against the issue's floor (80% classified as the target), and the tab's handlers."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch

from core import catalog, unpaired
from core.metrics import classifier_outputs, load_classifier
from demos import unpaired as tab
from demos.render import COLOUR_BAR_PX
from tests.conftest import torch_generator


@pytest.mark.fast
def test_cycle_loss_is_the_lecture_formula():
    g = torch_generator()
    u, v = torch.rand(2, 1, 4, 4, generator=g), torch.rand(2, 1, 4, 4, generator=g)
    u_back, v_back = torch.rand(2, 1, 4, 4, generator=g), torch.rand(2, 1, 4, 4, generator=g)
    expected = 3.0 * (u - u_back).abs().mean() + 0.5 * (v - v_back).abs().mean()
    assert unpaired.cycle_loss(u, u_back, v, v_back, 3.0, 0.5).item() == pytest.approx(expected.item())
    assert unpaired.cycle_loss(u, u, v, v, 10.0, 10.0).item() == 0  # perfect round trips cost nothing


@pytest.mark.fast
def test_least_squares_terms_vanish_where_each_player_wins():
    ones, zeros = torch.ones(3), torch.zeros(3)
    assert unpaired.least_squares_discriminator_loss(ones, zeros).item() == 0  # D: real -> 1, fake -> 0
    assert unpaired.least_squares_generator_loss(ones).item() == 0  # G: its fakes scored as real
    assert unpaired.least_squares_discriminator_loss(zeros, ones).item() == pytest.approx(1.0)


@pytest.mark.fast
def test_directions_and_shapes_are_checked():
    model = unpaired.DualGAN(unpaired.UnpairedConfig(base_channels=8, max_channels=16)).eval()
    x = torch.rand(3, 1, 28, 28, generator=torch_generator())
    translated, cycled = model.cycle(x, "u->v")
    assert translated.shape == cycled.shape == x.shape
    assert torch.equal(model.translate(x, "u->v"), translated)  # one way there, whichever call
    assert unpaired.reverse("u->v") == "v->u" and unpaired.reverse("v->u") == "u->v"
    with pytest.raises(ValueError, match="direction"):
        model.translate(x, "sideways")
    with pytest.raises(ValueError, match="28, 28"):
        model.translate(torch.rand(1, 3, 28, 28), "u->v")


@pytest.mark.fast
def test_model_range_round_trip_keeps_the_garment():
    x = torch.rand(2, 1, 28, 28, generator=torch_generator())
    padded = unpaired.to_model(x)
    assert padded.shape == (2, 1, 32, 32) and padded[..., :2, :].eq(-1).all()
    assert torch.allclose(unpaired.from_model(padded), x)


# --- the bundled model on the bundled held-out images ------------------------------------------------------------


@pytest.fixture(scope="module")
def translations(sample_tensors):
    x, labels = sample_tensors
    model = unpaired.load()
    config = model.config
    results = {}
    with torch.inference_mode():
        for direction, source, target in (
            ("u->v", config.domain_u, config.domain_v),
            ("v->u", config.domain_v, config.domain_u),
        ):
            images = x[labels == source]
            translated, cycled = model.cycle(images, direction)
            results[direction] = (images, translated, cycled, target)
    return results


@pytest.mark.parametrize("direction", unpaired.DIRECTIONS)
def test_at_least_80_percent_of_translations_are_read_as_the_target(translations, direction):
    images, translated, _, target = translations[direction]
    classifier = load_classifier()
    assert (classifier_outputs(classifier, translated)[1] == target).float().mean().item() >= 0.8
    assert (classifier_outputs(classifier, images)[1] == target).float().mean().item() < 0.1  # not so before


@pytest.mark.parametrize("direction", unpaired.DIRECTIONS)
def test_the_cycle_comes_home_and_translation_changes_the_image(translations, direction):
    images, translated, cycled, _ = translations[direction]
    cycle_error = (images - cycled).abs().mean().item()
    change = (images - translated).abs().mean().item()
    other_shoe = (images - images.roll(1, dims=0)).abs().mean().item()  # two different shoes of one class
    assert cycle_error < 0.5 * other_shoe
    assert change > 2 * cycle_error


# --- the tab's handlers ----------------------------------------------------------------------------------------


def test_translate_shows_the_translation_the_cycle_and_the_error(sample):
    sneaker = sample.images[np.flatnonzero(sample.labels == unpaired.UnpairedConfig.domain_u)[0]]
    translated, cycled, error, note = tab.translate(sneaker, "u->v")
    assert translated.size == cycled.size == (224, 224) and error.size == (224, 224 + COLOUR_BAR_PX)
    assert "Cycle error" in note and "classifier reads" in note


@pytest.mark.fast
@pytest.mark.parametrize(
    "args, message",
    [
        ((None, "u->v"), "No image"),
        ((np.zeros((40, 40, 3), np.uint8), "u->v"), "flat colour"),
        ((np.full((40, 40), 200, np.uint8), "left"), "direction"),
    ],
)
def test_bad_input_gets_a_clear_message(args, message):
    with pytest.raises(gr.Error, match=message):
        tab.translate(*args)


@pytest.mark.fast
def test_a_new_direction_before_any_image_does_nothing():
    assert tab.retranslate(None, "v->u") == (gr.skip(),) * 4


@pytest.mark.fast
def test_missing_checkpoint_names_the_command(empty_checkpoints, sample):
    with pytest.raises(gr.Error, match="python -m core.train unpaired"):
        tab.translate(sample.images[0], "u->v")


def test_the_grid_shows_both_directions_and_their_cycles():
    grid = tab.translate_grid()
    assert grid.size == (tab.GRID_ROW_NAMES_PX + 4 * (tab.EXAMPLES_PER_DOMAIN * 29 + 1), 4 + 4 * (6 * 29 + 1))


@pytest.mark.fast
def test_tab_labels_follow_the_bundled_checkpoints_classes(empty_checkpoints):
    assert catalog.unpaired_domains() == (unpaired.UnpairedConfig.domain_u, unpaired.UnpairedConfig.domain_v)  # none
    (empty_checkpoints / unpaired.CHECKPOINT).mkdir()
    config = empty_checkpoints / unpaired.CHECKPOINT / "config.json"
    config.write_text('{"domain_u": 0, "domain_v": 3}')  # T-shirt/top <-> Dress
    assert catalog.unpaired_domains() == (0, 3)
    config.write_text('{"domain_u": 0, "domain_v": 12}')  # no class 12: fall back
    assert catalog.unpaired_domains() == (7, 9)
    config.write_text("{broken")
    assert catalog.unpaired_domains() == (7, 9)
