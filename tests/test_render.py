"""Pictures for people: crisp upscaling and grids; the Pillow figures' legends and scales: a colour bar runs through
its colours under the picture, a heat map saturates at its vmax, and a verdict map at full strength shows D's colours
themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from demos.render import (
    COLOUR_BAR_PX,
    FAKE_COLOUR,
    HEAT_COLD,
    HEAT_HOT,
    REAL_COLOUR,
    decision_background,
    heat_image,
    image_grid,
    to_display,
    with_colour_bar,
)


def test_display_is_crisp_nearest_neighbour():
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    shown = np.asarray(to_display(x, scale=4))
    assert shown.shape == (8, 8) and set(np.unique(shown)) == {0, 255}


def test_a_grid_keeps_its_columns_and_grey_gutters_even_when_short_or_alone():
    ones = torch.ones(5, 1, 4, 4)
    grid = np.asarray(image_grid(ones, columns=3, scale=1, pad=1))
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1)  # two rows of three 4-pixel cells with 1-pixel gutters
    assert grid[1, 1] == 255 and grid[0, 0] == grid[6, 11] == 128  # a cell, a gutter, the empty sixth cell
    alone = np.asarray(image_grid(torch.zeros(1, 3, 4, 4), columns=1, scale=2, pad=1))
    assert alone.shape == (12, 12, 3) and (alone[:2] == 128).all() and (alone[2:10, 2:10] == 0).all()


pytestmark = pytest.mark.fast


def test_a_colour_bar_runs_through_its_colours_under_the_unchanged_picture():
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 120, 3), dtype=np.uint8))
    shown = with_colour_bar(picture, [FAKE_COLOUR, (255, 255, 255), REAL_COLOUR], ["fake", "0.5", "real"])
    assert shown.size == (120, 40 + COLOUR_BAR_PX)
    pixels = np.asarray(shown)
    assert np.array_equal(pixels[:40], np.asarray(picture))
    bar = pixels[44]  # a row through the bar
    assert tuple(bar[0]) == FAKE_COLOUR and tuple(bar[-1]) == REAL_COLOUR
    assert np.abs(bar[60].astype(int) - 255).max() <= 6  # white in the middle
    assert (pixels[40 + COLOUR_BAR_PX // 2 :] < 128).any()  # the labels are drawn


def test_a_heat_map_saturates_at_its_vmax():
    values = torch.tensor([[0.0, 0.125, 0.25, 0.9]])
    pixels = np.asarray(heat_image(values, scale=1, vmax=0.25))
    assert tuple(pixels[0, 0]) == HEAT_COLD and tuple(pixels[0, 2]) == tuple(pixels[0, 3]) == HEAT_HOT
    assert tuple(pixels[0, 1]) == tuple(round((c + h) / 2) for c, h in zip(HEAT_COLD, HEAT_HOT))


def test_a_verdict_map_at_full_strength_shows_ds_colours_and_the_default_stays_pale():
    sure = torch.tensor([[1.0, 0.0]])
    full = np.asarray(decision_background(sure, 2, probability=True, strength=1.0).resize((2, 1), Image.NEAREST))
    assert tuple(full[0, 0]) == REAL_COLOUR and tuple(full[0, 1]) == FAKE_COLOUR
    pale = np.asarray(decision_background(sure, 2, probability=True).resize((2, 1), Image.NEAREST))
    assert pale[0, 0].min() > min(REAL_COLOUR) + 50


def test_a_grid_of_no_images_is_refused_in_a_sentence():
    with pytest.raises(ValueError, match="at least one image"):
        image_grid(torch.zeros(0, 1, 4, 4), columns=3)
