"""StyleGAN: mapping network, AdaIN, truncation and style mixing; the bundled model; the tab's handlers."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch
from torch import nn

from core import latent, stylegan
from core.metrics import classifier_outputs, load_classifier
from demos import stylegan as tab
from tests.conftest import fd_samples_and_noise, torch_generator


@pytest.mark.fast
def test_the_mapping_network_is_an_8_layer_mlp():
    model = stylegan.StyleGAN()
    assert sum(isinstance(m, nn.Linear) for m in model.mapping.modules()) == 8
    w = model.map(torch.randn(500, model.config.latent_dim, generator=torch_generator()))
    assert w.shape == (500, model.config.w_dim) and 0.3 < w.std().item() < 3  # initialised to keep its scale


@pytest.mark.fast
def test_adain_normalises_then_applies_the_style():
    adain = stylegan.AdaIN(channels=3, w_dim=4)
    x = torch.randn(2, 3, 5, 5) * 7 + 3
    with torch.no_grad():
        adain.to_style.weight.zero_()
        adain.to_style.bias.copy_(torch.tensor([1.0, 0.0, -0.5, 0.2, 0.0, 4.0]))  # scales 2, 1, 0.5; shifts .2, 0, 4
        y = adain(x, torch.randn(2, 4))
    assert torch.allclose(y.mean(dim=(2, 3)), torch.tensor([[0.2, 0.0, 4.0]] * 2), atol=1e-4)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), torch.tensor([[2.0, 1.0, 0.5]] * 2), atol=1e-3)


@pytest.mark.fast
def test_truncation_endpoints():
    w, w_avg = torch.randn(3, 8), torch.randn(8)
    assert torch.allclose(stylegan.truncate(w, w_avg, 1.0), w, atol=1e-6)
    assert torch.allclose(stylegan.truncate(w, w_avg, 0.0), w_avg.expand(3, 8))


@pytest.mark.fast
def test_style_mixing_takes_early_layers_from_a_and_the_rest_from_b():
    a, b = torch.zeros(1, 6, 4), torch.ones(1, 6, 4)
    mixed = stylegan.style_mix(a, b, crossover=2)
    assert mixed[0, :2].eq(0).all() and mixed[0, 2:].eq(1).all()


@pytest.mark.fast
def test_every_layer_listens_to_its_own_w():
    model = stylegan.StyleGAN().eval()
    ws = model.broadcast(torch.randn(1, model.config.w_dim, generator=torch_generator()))
    with torch.no_grad():
        base = model.synthesize(ws)
        for layer in range(model.num_ws):
            changed = ws.clone()
            changed[:, layer] = torch.randn(model.config.w_dim, generator=torch_generator(layer + 1))
            assert not torch.allclose(model.synthesize(changed), base), layer
    with pytest.raises(ValueError, match="Expected w"):
        model.synthesize(ws[:, :3])


@pytest.mark.fast
def test_nearest_centroid_accuracy_reads_separated_classes():
    labels = torch.arange(400) % 4
    separated = torch.nn.functional.one_hot(labels).float() * 10 + torch.randn(400, 4, generator=torch_generator())
    assert stylegan.nearest_centroid_accuracy(separated, labels) == 1.0
    mixed = torch.randn(400, 4, generator=torch_generator(1))
    assert stylegan.nearest_centroid_accuracy(mixed, labels) < 0.5


# --- the bundled model ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples():
    model = stylegan.load()
    with torch.inference_mode():
        return model.generate(latent.sample_prior(1000, model.config.latent_dim, torch_generator(1)))


def test_stylegan_samples_are_far_closer_to_data_than_noise(samples, sample_tensors):
    fd_samples, fd_noise = fd_samples_and_noise(samples, sample_tensors[0])
    assert fd_samples < fd_noise / 4, (fd_samples, fd_noise)


def test_w_tells_the_class_better_than_z():
    # the lecture: "W better captures the properties of the data distribution"; measured on the bundled model
    model = stylegan.load()
    z = latent.noise_from_seed(5, model.config.latent_dim, 2000)
    with torch.inference_mode():
        w = model.map(z)
        classes = classifier_outputs(load_classifier(), model.synthesize(w))[1]
    assert stylegan.nearest_centroid_accuracy(w, classes) > stylegan.nearest_centroid_accuracy(z, classes) + 0.05


def test_truncation_to_zero_gives_one_image():
    grid = np.asarray(tab.sample(0, 4, 0.0)).astype(int)
    cell = 28 * 3
    first = grid[3 : 3 + cell, 3 : 3 + cell]
    assert all(
        np.abs(grid[3 : 3 + cell, 3 + k * (cell + 3) : 3 + k * (cell + 3) + cell] - first).max() <= 1 for k in range(4)
    )


# --- handlers ---------------------------------------------------------------------------------------------------


def test_interpolations_share_their_endpoints():
    in_z, in_w = (np.asarray(image) for image in tab.interpolate(1, 2, 5))
    cell = in_z.shape[0]
    assert np.array_equal(in_z[:, :cell], in_w[:, :cell]) and np.array_equal(in_z[:, -cell:], in_w[:, -cell:])


def test_mixing_table_cells_take_after_their_row_when_it_gives_most_layers():
    table = np.asarray(tab.mix("1, 2", "3, 4, 5", "everything but the last layer from the row")).astype(float)
    step, cell = 29 * 3, 28 * 3
    top, left = tab.MIX_HEADER_PX + 3, tab.MIX_ROW_NAMES_PX + 3  # the seeds' names, then the grid's outer gutter
    assert table.shape[:2] == (top + 3 * step, left + 4 * step)  # 4 columns x 3 rows of cells

    def at(r, c):
        return table[top + r * step : top + r * step + cell, left + c * step : left + c * step + cell]

    for r in (1, 2):
        for c in (1, 2, 3):
            to_row = np.abs(at(r, c) - at(r, 0)).mean()
            to_column = np.abs(at(r, c) - at(0, c)).mean()
            assert to_row < to_column, (r, c, to_row, to_column)


def test_z_versus_w_reports_both_spaces():
    z_map, w_map, text = tab.z_versus_w(0)
    assert z_map.size == w_map.size == (tab.SCATTER_SIZE, tab.SCATTER_SIZE)
    assert "from z:" in text and "from w:" in text


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tab.sample(0, 4, 9.0), "between 0.0 and 1.5"),
        (lambda: tab.mix("1, x", "2", next(iter(tab.CROSSOVERS))), "whole numbers"),
        (lambda: tab.mix("1, 2, 3, 4, 5, 6, 7", "2", next(iter(tab.CROSSOVERS))), "between 1 and 6"),
        (lambda: tab.mix("1", "2", "everything"), "crossover"),
        (lambda: tab.interpolate(0, -5, 4), "seed"),
        (lambda: tab.mix("1, -5", "2", next(iter(tab.CROSSOVERS))), "between 0 and"),
        (lambda: tab.mix("1", "2", ["coarse"]), "crossover"),
    ],
)
def test_bad_arguments_get_a_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()
