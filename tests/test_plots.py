"""The Pillow figures' legends and scales: a colour bar runs through its colours under the picture, a heat map
saturates at its vmax, and a verdict map at full strength shows D's colours themselves."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.plots import (COLOUR_BAR_PX, FAKE_COLOUR, HEAT_COLD, HEAT_HOT, REAL_COLOUR, decision_background,
                        heat_image, with_colour_bar)

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
    assert (pixels[40 + COLOUR_BAR_PX // 2:] < 128).any()  # the labels are drawn


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
