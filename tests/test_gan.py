"""GANs: the lecture's objective, the bundled GAN and conditional GAN against the issue's floors, the tab's handlers."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
import torch

from core import gan, latent
from core.datasets import load_sample
from core.metrics import class_consistency, classifier_outputs, load_classifier
from demos import gan as tab
from demos.render import image_grid
from tests.conftest import class_shares, fd_samples_and_noise, torch_generator

# --- the objective ----------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_discriminator_loss_is_minus_the_value_function():
    real, fake = torch.tensor([2.0, -0.5]), torch.tensor([0.3, -1.0])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    value = (torch.log(d_real) + torch.log(1 - d_fake)).mean()  # V(D, G) for these scores
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(-value.item(), rel=1e-5)


@pytest.mark.fast
def test_generator_losses_are_the_lecture_forms():
    logits = torch.tensor([-3.0, 0.0, 2.0])
    d = torch.sigmoid(logits)
    assert gan.generator_loss_minimax(logits).item() == pytest.approx(torch.log(1 - d).mean().item(), rel=1e-5)
    assert gan.generator_loss_non_saturating(logits).item() == pytest.approx(-torch.log(d).mean().item(), rel=1e-5)


@pytest.mark.fast
def test_non_saturating_loss_keeps_its_gradient_when_d_rejects_fakes():
    # D confidently says "fake" (D(G(z)) = 0.0025): log(1 - D) is flat there, -log D is steep.
    logits = torch.tensor([-6.0], requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(gan.generator_loss_minimax(logits), logits)
    (ns_grad,) = torch.autograd.grad(gan.generator_loss_non_saturating(logits), logits)
    assert abs(ns_grad.item()) > 100 * abs(minimax_grad.item())


@pytest.mark.fast
def test_wgan_losses_are_the_critics_score_gap():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert gan.wgan_critic_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)  # E D(G(z)) − E D(x)
    assert gan.wgan_generator_loss(fake).item() == pytest.approx(1.0)  # −E D(G(z))


@pytest.mark.fast
@pytest.mark.parametrize("shape", [(16, 2), (8, 1, 4, 4)])
def test_gradient_penalty_of_a_linear_critic_is_its_slope_minus_one_squared(shape):
    features = int(np.prod(shape[1:]))
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(features, 1))
    g = torch_generator(1)
    real, fake = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    for norm in (1.0, 3.0, 0.5):  # ∇D = w everywhere: the penalty is (||w|| − 1)² wherever x̂ falls
        with torch.no_grad():
            w = torch.randn(1, features, generator=g)
            critic[1].weight.copy_(norm * w / w.norm())
        penalty = gan.gradient_penalty(critic, real, fake, torch_generator()).item()
        assert penalty == pytest.approx((norm - 1) ** 2, abs=1e-6)


@pytest.mark.fast
def test_gradient_penalty_is_taken_between_real_and_fake_samples():
    def critic(x):  # D(x) = ||x||² / 2: ∇D(x̂) = x̂, so the penalty depends on where x̂ lies
        return 0.5 * x.pow(2).sum(dim=1)

    real, fake = torch.tensor([[2.0, 0.0]]).repeat(6, 1), torch.zeros(6, 2)
    u = torch.rand(6, 1, generator=torch_generator(4))  # x̂ = u x + (1 − u) G(z), u drawn from the same seed
    expected = ((2 * u.squeeze(1) - 1) ** 2).mean().item()
    assert gan.gradient_penalty(critic, real, fake, torch_generator(4)).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.fast
def test_conditional_gan_needs_and_uses_the_class():
    model = gan.GAN(gan.GANConfig(num_classes=10)).eval()
    z = torch.randn(2, model.config.latent_dim, generator=torch_generator())
    with pytest.raises(ValueError, match="needs a class"):
        model.generate(z)
    with torch.inference_mode():
        a, b = model.generate(z, torch.tensor([0, 0])), model.generate(z, torch.tensor([1, 1]))
    assert a.shape == (2, 1, 28, 28) and not torch.allclose(a, b)
    assert a.min() >= 0 and a.max() <= 1


# --- the bundled models against the floors -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gan_samples():
    model = gan.load("gan")
    with torch.inference_mode():
        return model.generate(latent.sample_prior(1000, model.config.latent_dim, torch_generator(1)))


def test_gan_is_not_mode_collapsed(gan_samples):
    shares = class_shares(gan_samples)
    assert min(shares.values()) >= 0.03, shares


def test_gan_samples_are_far_closer_to_data_than_noise(gan_samples, sample_tensors):
    fd_samples, fd_noise = fd_samples_and_noise(gan_samples, sample_tensors[0])
    assert fd_samples < fd_noise / 4, (fd_samples, fd_noise)


def test_conditional_gan_draws_the_requested_class():
    model = gan.load("cgan")
    requested = torch.arange(1000) % 10
    with torch.inference_mode():
        images = model.generate(latent.sample_prior(1000, model.config.latent_dim, torch_generator(3)), requested)
    predictions = classifier_outputs(load_classifier(), images)[1]
    assert class_consistency(predictions, requested) >= 0.80


# --- handlers ---------------------------------------------------------------------------------------------------


def test_sample_is_a_grid_and_the_seed_fixes_it():
    first, again, other = tab.sample(5, 16), tab.sample(5, 16), tab.sample(6, 16)
    assert first.size == image_grid(torch.zeros(16, 1, 28, 28), columns=8, scale=3).size  # 8 x 2 cells
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_interpolation_strips_share_their_ends_and_differ_between():
    linear, spherical = tab.interpolate(1, 2, 6)
    a, b = np.asarray(linear), np.asarray(spherical)
    assert a.shape == b.shape
    cell = a.shape[0]  # one row of square cells
    assert np.array_equal(a[:, :cell], b[:, :cell]) and np.array_equal(a[:, -cell:], b[:, -cell:])
    middle = slice(2 * cell, 4 * cell)
    assert not np.array_equal(a[:, middle], b[:, middle])  # slerp is not the straight line


def test_discriminator_scores_report_the_measured_means():
    table, text = tab.discriminator_scores(0)
    assert set(table["images"]) == {"real test images", "generated G(z)"}
    model = gan.load("gan")
    real = torch.from_numpy(load_sample().images[:500]).float().div(255).unsqueeze(1)
    with torch.inference_mode():
        expected = model.d_probability(real).mean().item()
    assert f"mean D on real test images **{expected:.3f}**" in text


@pytest.mark.fast
def test_the_verdict_follows_the_numbers():
    near = tab.verdict(torch.full((10,), 0.52), torch.full((10,), 0.47))
    apart = tab.verdict(torch.full((10,), 0.9), torch.full((10,), 0.1))
    assert "near 0.5" in near and "100%" in apart and "not reached" in apart


def test_conditional_samples_share_z_across_the_class_columns():
    everything, classes = tab.conditional_images(tab.ALL_CLASSES, 0, 4)
    trousers, only = tab.conditional_images("Trouser", 0, 4)
    assert everything.shape == (4, 10, 1, 28, 28) and classes == list(range(10)) and only == [1]
    assert torch.allclose(everything[:, 1], trousers[:, 0], atol=1e-5)  # the Trouser column: same z, same y
    assert not torch.allclose(everything[:, 0], everything[:, 1], atol=1e-2)  # another class, the same z


def test_conditional_grid_names_its_columns_and_rows():
    grid = tab.conditional_sample(tab.ALL_CLASSES, 0, 4)
    cell = 29 * tab.CGAN_SCALE
    assert grid.width > 10 * cell and grid.height > 4 * cell  # the names' margins come on top of the cells
    header = np.asarray(grid.convert("L"))[:20]
    assert (header < 128).any()  # dark text on the white header


def test_conditional_gan_rejects_classes_out_of_range():
    model = gan.load("cgan")
    with pytest.raises(ValueError, match="0..9"):
        model.generate(torch.zeros(1, model.config.latent_dim), torch.tensor([10]))
    with pytest.raises(ValueError, match="needs a class"):
        model.d_logit(torch.zeros(1, 1, 28, 28))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tab.sample(0, 0), "between 1 and 64"),
        (lambda: tab.sample(-1, 4), "seed"),
        (lambda: tab.sample("x", 4), "whole number"),
        (lambda: tab.interpolate(0, 1, 100), "between 2 and 16"),
        (lambda: tab.conditional_sample("Dragon", 0, 4), "Choose a class"),
        (lambda: tab.conditional_sample("Bag", 0, 99), "between 1 and 16"),
    ],
)
def test_bad_arguments_get_a_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


@pytest.mark.fast
def test_missing_checkpoints_give_the_rebuild_command(empty_checkpoints):
    with pytest.raises(gr.Error, match="python -m core.train gan"):
        tab.sample(0, 4)
    with pytest.raises(gr.Error, match="python -m core.train cgan"):
        tab.conditional_sample("Bag", 0, 4)
