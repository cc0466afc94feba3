"""Pictures for people: crisp upscaling and grids."""
from __future__ import annotations

import numpy as np
import torch

from demos.render import image_grid, to_display


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
