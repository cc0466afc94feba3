"""The live 2-D GAN: its data, its metric, the gradient penalty, the training stream and the tab's handler."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np
import pytest
import torch

from core import toy_gan
from demos import toy_gan as tab
from tests.conftest import rgba_drawing, torch_generator


@pytest.mark.fast
def test_the_metric_counts_modes_and_close_samples():
    centres = toy_gan.mode_centres("ring")
    assert centres.shape == (8, 2) and torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    perfect = toy_gan.mode_metrics(centres.repeat(3, 1), centres)
    assert perfect == {"modes_covered": 8, "modes_total": 8, "high_quality_share": 1.0}
    collapsed = torch.cat([centres[:1].repeat(50, 1), torch.zeros(50, 2)])  # one mode, and junk at the origin
    assert toy_gan.mode_metrics(collapsed, centres) == {"modes_covered": 1, "modes_total": 8, "high_quality_share": 0.5}
    assert toy_gan.mode_centres("grid").shape == (25, 2)


@pytest.mark.fast
def test_real_samples_sit_on_their_modes():
    x = toy_gan.real_sampler("grid")(2000, torch_generator())
    metrics = toy_gan.mode_metrics(x, toy_gan.mode_centres("grid"))
    assert metrics["modes_covered"] == 25 and metrics["high_quality_share"] > 0.98  # 3 sigma holds 98.9% in 2-D


@pytest.mark.fast
def test_drawn_points_follow_the_ink():
    drawing = np.zeros((100, 100))
    drawing[:10, :10] = 1  # top-left corner: x and y near (-EXTENT, +EXTENT)
    points = toy_gan.points_from_ink(drawing)
    assert len(points) == 100
    assert (points[:, 0] < -2.4).all() and (points[:, 1] > 2.4).all()
    with pytest.raises(ValueError, match="empty"):
        toy_gan.points_from_ink(np.zeros((50, 50)))


@pytest.mark.fast
def test_the_wgan_objective_uses_the_lecture_modules_losses():
    from core import gan

    assert toy_gan.player_losses("wgan_gp") == (gan.wgan_critic_loss, gan.wgan_generator_loss)
    assert toy_gan.player_losses("minimax") == (gan.discriminator_loss, gan.generator_loss_minimax)
    with pytest.raises(ValueError, match="Unknown loss"):
        toy_gan.player_losses("hinge")


def test_training_streams_frames_and_learns_the_ring():
    config = toy_gan.ToyGANConfig(steps=600, frame_every=200)
    frames = list(toy_gan.train(config))
    assert [f.step for f in frames] == [0, 200, 400, 600]
    assert frames[0].decision.shape == (toy_gan.MAP_RESOLUTION, toy_gan.MAP_RESOLUTION)
    assert frames[0].metrics["high_quality_share"] < 0.05  # untrained G: a blob at the origin
    assert frames[-1].metrics["modes_covered"] >= 6 and frames[-1].metrics["high_quality_share"] > 0.1


def test_frames_due_sooner_than_the_minimum_interval_wait_for_it():
    """A frame owed at every step, none sooner than 30 ms after the last: a step or two per frame on this machine
    without the minimum (about 1-3 ms a step), a handful with it; the last step is always shown."""
    times = []
    frames = []
    for frame in toy_gan.train(toy_gan.ToyGANConfig(steps=200, frame_every=1), min_frame_interval_s=0.03):
        times.append(time.perf_counter())
        frames.append(frame.step)
    assert frames[0] == 0 and frames[-1] == 200 and len(frames) < 100, frames
    assert min(np.diff(times[:-1])) >= 0.03, np.diff(times)  # all but the last step's


def test_a_seed_fixes_the_run():
    short = toy_gan.ToyGANConfig(steps=50, frame_every=50)
    first, again = list(toy_gan.train(short))[-1], list(toy_gan.train(short))[-1]
    other = list(toy_gan.train(toy_gan.ToyGANConfig(steps=50, frame_every=50, seed=1)))[-1]
    assert torch.equal(first.fake, again.fake) and not torch.equal(first.fake, other.fake)


def test_training_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    list(toy_gan.train(toy_gan.ToyGANConfig(steps=20, frame_every=10, loss="wgan_gp", k=2)))
    assert torch.equal(torch.rand(3), expected)


def test_the_papers_setting_collapses_onto_few_modes():
    preset = tab.PRESETS["Mode collapse (unrolled-GAN)"]
    config = tab._config(
        preset["distribution"],
        preset["loss"],
        600,
        preset["k"],
        preset["batch_size"],
        preset["lr_d"],
        preset["lr_g"],
        preset["latent_dim"],
        0,
    )
    final = list(toy_gan.train(config))[-1].metrics
    assert final["modes_covered"] <= 3, final


def test_the_handler_streams_images_text_and_losses():
    outputs = list(tab.train_live("grid", "minimax", 100, 1, 64, 1e-3, 1e-3, 2, 0))
    image, text, losses = outputs[-1]
    assert image.size == (tab.FRAME_SIZE, tab.FRAME_SIZE)
    assert "Step 100 of 100" in text and "of 25" in text
    assert set(losses["player"]) == {"D", "G"} and losses["step"].max() == 100


@pytest.mark.fast
def test_the_opening_frame_reports_no_loss_before_any_update():
    image, text, _ = tab.opening_frame("ring", "non_saturating", 2000, 1, 256, 1e-3, 1e-3, 2, 0)
    assert image.size == (tab.FRAME_SIZE, tab.FRAME_SIZE)
    assert "Step 0 of 2000" in text and "nan" not in text.lower() and "press **Train**" in text


def test_the_handler_trains_on_a_drawing():
    drawing = rgba_drawing(strokes=[(100, 40, 120, 240)])  # a horizontal bar
    _image, text, _ = list(tab.train_live("drawn", "non_saturating", 50, 1, 64, 1e-3, 1e-3, 2, 0, drawing))[-1]
    assert "Step 50" in text and "Modes" not in text


@pytest.mark.fast
@pytest.mark.parametrize(
    "args, message",
    [
        (("drawn", "non_saturating", 100, 1, 64, 1e-3, 1e-3, 2, 0, None), "needs a drawing"),
        (("drawn", "non_saturating", 100, 1, 64, 1e-3, 1e-3, 2, 0, rgba_drawing()), "needs a drawing"),
        (("spiral", "non_saturating", 100, 1, 64, 1e-3, 1e-3, 2, 0), "Choose a distribution"),
        (("ring", "hinge", 100, 1, 64, 1e-3, 1e-3, 2, 0), "Choose a loss"),
        (("ring", "minimax", 10**6, 1, 64, 1e-3, 1e-3, 2, 0), "between 50 and 5000"),
        (("ring", "minimax", 100, 0, 64, 1e-3, 1e-3, 2, 0), "between 1 and 10"),
        (("ring", "minimax", 100, 1, 64, float("nan"), 1e-3, 2, 0), "learning rate"),
        (("ring", "wgan_gp", 5000, 10, 1024, 1e-3, 1e-3, 2, 0), "too long"),
        (("ring", "minimax", float("inf"), 1, 64, 1e-3, 1e-3, 2, 0), "whole number"),
        (("ring", "minimax", 100.5, 1, 64, 1e-3, 1e-3, 2, 0), "whole number"),
    ],
)
def test_bad_settings_get_a_message(args, message):
    with pytest.raises(gr.Error, match=message):
        list(tab.train_live(*args))
