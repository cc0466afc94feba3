"""Diffusion: the forward process against its closed form and diffusers, the samplers, the bundled DDPM, the tab."""

from __future__ import annotations

import itertools
import re

import gradio as gr
import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from core import diffusion, samplers, unet
from core.images import to_model_input
from core.metrics import roughness, roughness_limit, speckled_share
from demos import diffusion as tab
from tests.conftest import class_shares, fd_samples_and_noise, torch_generator

ALPHAS = diffusion.noise_schedule()
ALPHA_BARS = diffusion.alpha_bar(ALPHAS)


# --- the forward process ------------------------------------------------------------------------------------


@pytest.mark.fast
def test_alpha_bar_is_the_product_of_one_minus_alpha():
    assert ALPHA_BARS[0].item() == pytest.approx(1 - diffusion.ALPHA_START)
    assert ALPHA_BARS[1].item() == pytest.approx((1 - ALPHAS[0].item()) * (1 - ALPHAS[1].item()))
    assert torch.all(ALPHA_BARS[1:] < ALPHA_BARS[:-1])
    assert ALPHA_BARS[-1].item() < 1e-4  # x_T is (almost) pure noise: the reverse process may start from N(0, I)


@pytest.mark.parametrize(
    "t", [pytest.param(1, marks=pytest.mark.fast), pytest.param(10, marks=pytest.mark.fast), 300, 1000]
)  # 300 and 1,000 steps of 20,000 chains take seconds: the full suite's
def test_closed_form_matches_iterating_the_one_step_formula_in_distribution(t):
    x0 = torch.linspace(-1, 1, 9, dtype=torch.float64).repeat(20_000, 1)  # 9 pixel values, 20,000 chains each
    g = torch_generator(t)
    stepped = x0
    for s in range(t):
        stepped = diffusion.forward_step(stepped, ALPHAS[s], torch.randn(x0.shape, generator=g, dtype=torch.float64))
    closed = diffusion.q_sample(x0, ALPHA_BARS[t - 1], torch.randn(x0.shape, generator=g, dtype=torch.float64))
    a_bar = ALPHA_BARS[t - 1].item()
    for x in (stepped, closed):  # both are N(√ᾱ_t x_0, (1 − ᾱ_t) I), pixel by pixel
        assert torch.allclose(x.mean(0), np.sqrt(a_bar) * x0[0], atol=0.02)
        assert torch.allclose(x.std(0), torch.full((9,), np.sqrt(1 - a_bar), dtype=torch.float64), atol=0.02)
    if 10 <= t <= 300:  # the check has teeth: a schedule built from α instead of 1 − α is far off
        wrong = torch.cumprod(ALPHAS, 0)[t - 1].item()
        assert abs(np.sqrt(1 - wrong) - stepped.std(0).mean().item()) > 0.05


@pytest.mark.fast
def test_closed_form_matches_diffusers_add_noise():
    scheduler = DDPMScheduler(**samplers.scheduler_kwargs(ALPHAS))
    g = torch_generator(1)
    x0, eps = torch.rand(6, 1, 28, 28, generator=g) * 2 - 1, torch.randn(6, 1, 28, 28, generator=g)
    t = torch.tensor([0, 1, 99, 500, 998, 999])
    ours = diffusion.q_sample(x0, ALPHA_BARS[t].float(), eps)
    assert torch.allclose(ours, scheduler.add_noise(x0, eps, t), atol=1e-5)


@pytest.mark.fast
def test_predicted_x0_and_eps_from_x0_invert_the_closed_form():
    g = torch_generator(2)
    x0, eps = torch.randn(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g)
    a = ALPHA_BARS[torch.tensor([5, 200, 900])].float()
    assert torch.allclose(diffusion.predicted_x0(diffusion.q_sample(x0, a, eps), a, eps), x0, atol=1e-3)
    assert torch.allclose(diffusion.eps_from_x0(diffusion.q_sample(x0, a, eps), a, x0), eps, atol=1e-3)
    assert torch.allclose(diffusion.eps_from_x0(diffusion.q_sample(x0, 0.3, eps), 0.3, x0), eps, atol=1e-5)


@pytest.mark.fast
def test_signal_to_noise_falls_from_high_to_near_zero():
    snr = diffusion.signal_to_noise(ALPHA_BARS)
    assert snr[0] > 1000 and snr[-1] < 1e-4 and torch.all(snr[1:] < snr[:-1])


# --- samplers, with an oracle ε-predictor -------------------------------------------------------------------


def oracle_for(point: torch.Tensor):
    """The exact ε-predictor when the data is one image: ε = (x_t − √ᾱ_t x*) / √(1 − ᾱ_t)."""

    def eps_model(x_t, t):
        a = ALPHA_BARS[int(t)].float()
        return (x_t - a.sqrt() * point) / (1 - a).sqrt()

    return eps_model


POINT = torch.linspace(-0.9, 0.9, 16).reshape(1, 1, 4, 4)


@pytest.mark.fast
@pytest.mark.parametrize("steps", [1, 8, 10, 50, 125, 1000])
def test_ddim_with_the_oracle_recovers_the_data_point(steps):
    trace = list(
        samplers.ddim_sample(oracle_for(POINT), samplers.noise((3, 1, 4, 4), torch_generator(3)), ALPHAS, steps)
    )
    assert len(trace) == steps and [s.step for s in trace] == list(range(1, steps + 1))
    assert trace[0].t == diffusion.NUM_TRAIN_STEPS  # starts from pure noise x_T, however few the steps
    assert all(a.t > b.t >= 1 for a, b in itertools.pairwise(trace))  # the lecture's t counts down
    assert all(a.t_next == b.t for a, b in itertools.pairwise(trace)) and trace[-1].t_next == 0
    assert torch.allclose(trace[-1].x_t, POINT.expand(3, -1, -1, -1), atol=1e-3)
    assert torch.allclose(
        trace[0].x0_hat, POINT.expand(3, -1, -1, -1), atol=1e-3
    )  # the oracle's guess is right at once


@pytest.mark.fast
def test_ddpm_with_the_oracle_takes_every_step_and_lands_on_the_data_point():
    g = torch_generator(4)
    trace = list(samplers.ddpm_sample(oracle_for(POINT), samplers.noise((2, 1, 4, 4), g), ALPHAS, g))
    assert len(trace) == diffusion.NUM_TRAIN_STEPS and trace[0].t == 1000 and trace[-1].t == 1
    assert torch.allclose(trace[-1].x_t, POINT.expand(2, -1, -1, -1), atol=1e-2)


@pytest.mark.fast
@pytest.mark.parametrize("t", [1, 37, 250, 1000])
def test_ddim_from_a_noised_image_returns_to_it_with_the_oracle(t):
    x_t = diffusion.q_sample(POINT, ALPHA_BARS[t - 1].float(), torch.randn(1, 1, 4, 4, generator=torch_generator(t)))
    trace = list(samplers.ddim_sample(oracle_for(POINT), x_t, ALPHAS, 50, start=t))
    assert trace[0].t == t and len(trace) == -(-t // 20) and trace[-1].t_next == 0  # stride T / 50 = 20, from t
    assert torch.allclose(trace[-1].x_t, POINT, atol=1e-3)


@pytest.mark.fast
@pytest.mark.parametrize("steps", [1, 7, 20, 300])
def test_dpm_solver_with_the_oracle_recovers_the_data_point_in_any_step_count(steps):
    trace = list(
        samplers.dpm_solver_sample(oracle_for(POINT), samplers.noise((3, 1, 4, 4), torch_generator(3)), ALPHAS, steps)
    )
    assert len(trace) == steps and trace[0].t == diffusion.NUM_TRAIN_STEPS and trace[-1].t_next == 0
    assert all(a.t_next == b.t for a, b in itertools.pairwise(trace))
    assert torch.allclose(trace[-1].x_t, POINT.expand(3, -1, -1, -1), atol=1e-3)


@pytest.mark.fast
def test_dpm_solver_is_more_accurate_than_ddim_at_the_same_step_count():
    """Data x_0 ~ N(μ, s²) per pixel: then ε has an exact predictor and the reverse ODE an exact endpoint (it maps
    x_T to the same quantile of the data, x_0 = μ + s · (x_T − √ᾱ_T μ) / √(ᾱ_T s² + 1 − ᾱ_T)). Both samplers solve that
    ODE: DDIM to first order (doubling the steps halves its error), DPM-Solver++(2M) to second order (doubling
    them cuts the error by about four)."""
    mu, spread = POINT, 0.2

    def gaussian_oracle(x_t, t):
        a = ALPHA_BARS[int(t)].float()
        return (1 - a).sqrt() * (x_t - a.sqrt() * mu) / (a * spread**2 + 1 - a)

    x_T = torch.randn((256, 1, 4, 4), generator=torch_generator(6))
    a_T = ALPHA_BARS[-1].float()
    exact = mu + spread * (x_T - a_T.sqrt() * mu) / (a_T * spread**2 + 1 - a_T).sqrt()

    def error(sampler, steps):
        final = samplers.last_step(samplers.sample(gaussian_oracle, x_T.shape, sampler, steps, torch_generator(6)))
        return (final.x_t - exact).abs().mean().item()

    ddim_50, ddim_100, dpm_50, dpm_100 = error("ddim", 50), error("ddim", 100), error("dpm++", 50), error("dpm++", 100)
    assert 1.5 < ddim_50 / ddim_100 < 2.5 and dpm_50 / dpm_100 > 3.5
    assert dpm_50 < 0.5 * ddim_50 and dpm_100 < 0.01


@pytest.mark.fast
def test_x0_range_keeps_every_guess_in_the_data_range_and_leaves_the_oracle_alone():
    def overshoot(x_t, t):  # guesses x_0 far outside [−1, 1]
        return -3 * x_t

    for sampler in ("ddim", "dpm++", "ddpm"):
        run = samplers.sample(overshoot, (2, 1, 4, 4), sampler, 10, torch_generator(7), x0_range=samplers.PIXEL_RANGE)
        steps = [s for i, s in enumerate(run) if i < 20]
        assert all(s.x0_hat.abs().max() <= 1.0 + 1e-4 for s in steps)  # up to rounding
        unclipped = next(samplers.sample(overshoot, (2, 1, 4, 4), sampler, 10, torch_generator(7)))
        assert unclipped.x0_hat.abs().max() > 1.5  # so the check above has teeth
    clipped = samplers.last_step(
        samplers.ddim_sample(
            oracle_for(POINT),
            samplers.noise((1, 1, 4, 4), torch_generator(3)),
            ALPHAS,
            10,
            x0_range=samplers.PIXEL_RANGE,
        )
    )
    assert torch.allclose(clipped.x_t, POINT, atol=1e-3)  # data inside the range is unchanged


@pytest.mark.fast
def test_clamped_x0_matches_diffusers_clip_sample_and_takes_a_range_per_channel():
    from diffusers import DDIMScheduler

    g = torch_generator(8)
    x_t, eps_hat = torch.randn(2, 3, 4, 4, generator=g), 3 * torch.randn(2, 3, 4, 4, generator=g)
    t = 900
    theirs = DDIMScheduler(**{**samplers.scheduler_kwargs(ALPHAS), "clip_sample": True}, set_alpha_to_one=True)
    theirs.set_timesteps(10)
    ours = DDIMScheduler(**samplers.scheduler_kwargs(ALPHAS), set_alpha_to_one=True)
    ours.set_timesteps(10)
    clamped = samplers.clamped_x0(lambda x, _: eps_hat, ALPHAS, -1.0, 1.0)
    expected = theirs.step(eps_hat, t, x_t, use_clipped_model_output=True).prev_sample  # ε̂ re-derived, as ours
    assert torch.allclose(ours.step(clamped(x_t, t), t, x_t).prev_sample, expected, atol=1e-4)
    low, high = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([1.0, 0.5, 3.0])
    per_channel = samplers.clamped_x0(lambda x, _: eps_hat, ALPHAS, low, high)(x_t, t)
    x0 = diffusion.predicted_x0(x_t, ALPHA_BARS[t].item(), per_channel)
    assert torch.all(x0 >= low.view(1, 3, 1, 1) - 1e-4) and torch.all(x0 <= high.view(1, 3, 1, 1) + 1e-4)
    assert torch.allclose(x0[:, 2].amin(), torch.tensor(2.0), atol=1e-4)  # channel 2 guessed lower: held at 2


@pytest.mark.fast
def test_step_counts_each_sampler_accepts():
    assert samplers.check_step_count("ddpm", 3) == diffusion.NUM_TRAIN_STEPS
    assert samplers.check_step_count("dpm++", 7) == 7
    with pytest.raises(ValueError, match="must divide"):
        samplers.check_step_count("ddim", 7)
    with pytest.raises(ValueError, match="1 to 1000"):
        samplers.check_step_count("dpm++", 0)
    with pytest.raises(ValueError, match="Choose a sampler"):
        samplers.check_step_count("euler", 10)


@pytest.mark.fast
def test_ddim_is_deterministic_given_x_T():
    def wiggle(x_t, t):  # any fixed ε-model
        return 0.1 * torch.tanh(x_t)

    a = samplers.last_step(
        samplers.ddim_sample(wiggle, samplers.noise((1, 1, 4, 4), torch_generator(5)), ALPHAS, 20)
    ).x_t
    b = samplers.last_step(
        samplers.ddim_sample(wiggle, samplers.noise((1, 1, 4, 4), torch_generator(5)), ALPHAS, 20)
    ).x_t
    assert torch.equal(a, b)


def ddpm_oracle() -> DDPMScheduler:
    """diffusers' DDPM on our schedule, σ_t² = β̃_t ("fixed_small"): the oracle for ddpm_reverse_step."""
    return DDPMScheduler(**samplers.scheduler_kwargs(ALPHAS), variance_type="fixed_small")


@pytest.mark.fast
def test_posterior_variance_is_diffusers_fixed_small_and_zero_at_the_first_step():
    scheduler = ddpm_oracle()
    scheduler.set_timesteps(len(ALPHAS))
    ours = diffusion.posterior_variance(ALPHAS)
    assert ours[0].item() == 0.0 and torch.all(ours[1:] < ALPHAS[1:])  # β̃_t < α_t: the posterior knows x_0
    for t in (1, 2, 500, 999):
        assert ours[t].item() == pytest.approx(scheduler._get_variance(t).item(), rel=2e-3)  # theirs in float32


@pytest.mark.fast
@pytest.mark.parametrize("t", [999, 500, 1, 0])  # 0-based, as diffusers counts
def test_ddpm_reverse_step_is_diffusers_ddpm_step(t):
    """core.diffusion.ddpm_reverse_step (Algorithm 2, σ_t² = β̃_t) against DDPMScheduler.step with the same z."""
    g = torch_generator(t)
    x_t, eps_hat = (torch.randn(2, 1, 4, 4, generator=g) for _ in range(2))
    z = torch.randn(2, 1, 4, 4, generator=torch_generator(100))  # what the scheduler draws from the same seed
    scheduler = ddpm_oracle()
    scheduler.set_timesteps(len(ALPHAS))
    theirs = scheduler.step(eps_hat, t, x_t, generator=torch_generator(100)).prev_sample
    ours = diffusion.ddpm_reverse_step(x_t, eps_hat, t, ALPHAS, z)
    assert torch.allclose(ours, theirs, atol=1e-4)  # theirs is float32: near t = 0, 1 − ᾱ_t keeps few digits
    if t > 0:  # the noise matters, and its scale is β̃_t, not α_t
        without_noise = diffusion.ddpm_reverse_step(x_t, eps_hat, t, ALPHAS, torch.zeros_like(z))
        scale = ((ours - without_noise) / z).mean().item()
        assert scale == pytest.approx(diffusion.posterior_variance(ALPHAS)[t].item() ** 0.5, rel=1e-4)
    else:  # the last step adds none
        assert torch.equal(ours, diffusion.ddpm_reverse_step(x_t, eps_hat, 0, ALPHAS, None))


@pytest.mark.fast
def test_ddpm_reverse_step_needs_noise_above_the_last_step():
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="pass `noise`"):
        diffusion.ddpm_reverse_step(x, x, 5, ALPHAS, None)


@pytest.mark.fast
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("num_steps, t", [(50, 999), (50, 519), (50, 19), (10, 99), (1000, 1)])
def test_ddim_reverse_step_is_diffusers_ddim_step(num_steps, t, eta):
    """core.diffusion.ddim_reverse_step against DDIMScheduler.step as the samplers configure it (trailing
    spacing, ᾱ = 1 after the last step), deterministic and with η = 1 and the same z."""
    from diffusers import DDIMScheduler

    g = torch_generator(t)
    x_t, eps_hat, z = (torch.randn(2, 1, 4, 4, generator=g) for _ in range(3))
    scheduler = DDIMScheduler(**samplers.scheduler_kwargs(ALPHAS), set_alpha_to_one=True, timestep_spacing="trailing")
    scheduler.set_timesteps(num_steps)
    t_prev = t - len(ALPHAS) // num_steps  # -1 at the end: x_0
    theirs = scheduler.step(eps_hat, t, x_t, eta=eta, variance_noise=z).prev_sample
    ours = diffusion.ddim_reverse_step(x_t, eps_hat, t, t_prev, ALPHA_BARS, eta=eta, noise=z)
    assert torch.allclose(ours, theirs, atol=1e-5)
    if t_prev < 0:  # the last step lands on the guess x̂_0, noise or not
        assert torch.allclose(ours, diffusion.predicted_x0(x_t, ALPHA_BARS[t].item(), eps_hat), atol=1e-6)


@pytest.mark.fast
def test_ddim_with_eta_one_over_consecutive_steps_is_the_ddpm_step():
    """The DDIM paper's η = 1 is DDPM: for t' = t − 1, σ² = β̃_t and the mean is the posterior mean."""
    g = torch_generator(11)
    x_t, eps_hat, z = (torch.randn(3, 1, 4, 4, generator=g) for _ in range(3))
    for t in (1, 300, 999):
        ddim = diffusion.ddim_reverse_step(x_t, eps_hat, t, t - 1, ALPHA_BARS, eta=1.0, noise=z)
        assert torch.allclose(ddim, diffusion.ddpm_reverse_step(x_t, eps_hat, t, ALPHAS, z), atol=1e-5)
    deterministic = diffusion.ddim_reverse_step(x_t, eps_hat, 300, 299, ALPHA_BARS)
    assert not torch.allclose(deterministic, diffusion.ddpm_reverse_step(x_t, eps_hat, 300, ALPHAS, z), atol=1e-3)
    with pytest.raises(ValueError, match="pass `noise`"):
        diffusion.ddim_reverse_step(x_t, eps_hat, 300, 299, ALPHA_BARS, eta=0.5)


@pytest.mark.fast
def test_ddim_step_counts_divide_T():
    counts = samplers.ddim_step_counts()
    assert counts[:6] == (1, 2, 4, 5, 8, 10) and counts[-1] == 1000 and len(counts) == 16


@pytest.mark.fast
def test_ddim_timesteps_are_diffusers_trailing_spacing():
    from diffusers import DDIMScheduler

    for n in samplers.ddim_step_counts():
        scheduler = DDIMScheduler(
            **samplers.scheduler_kwargs(ALPHAS), set_alpha_to_one=True, timestep_spacing="trailing"
        )
        scheduler.set_timesteps(n)
        assert torch.equal(samplers.ddim_timesteps(len(ALPHAS), n), scheduler.timesteps.long()), n
    assert samplers.ddim_timesteps(len(ALPHAS), 50, start=36).tolist() == [36, 16]  # from a given t, same stride


@pytest.mark.fast
def test_ddim_rejects_step_counts_that_would_not_land_on_x0():
    for steps in (0, 7, 61, diffusion.NUM_TRAIN_STEPS + 1):  # 61: diffusers' own spacing would end at t = -1
        with pytest.raises(ValueError, match="must divide 1000"):
            next(
                samplers.ddim_sample(oracle_for(POINT), samplers.noise((1, 1, 4, 4), torch_generator()), ALPHAS, steps)
            )


# --- speckle: the roughness measure ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_roughness_limit():
    from core.datasets import load_training_data

    return roughness_limit(load_training_data("test").tensors()[0])


@pytest.mark.fast
def test_roughness_flags_speckle_and_passes_real_garments(sample_tensors, real_roughness_limit):
    real = sample_tensors[0]
    checkerboard = (torch.arange(28)[:, None] + torch.arange(28)[None, :]) % 2 == 0
    speckled = real * checkerboard  # every other pixel of the garment dark: fragmented, high-contrast texture
    assert speckled_share(real, real_roughness_limit) <= 0.03  # 1% of the test set, by the limit's definition
    assert speckled_share(speckled, real_roughness_limit) >= 0.9
    small = torch.zeros(1, 1, 28, 28)
    small[..., 10:14, 10:14] = 1.0  # a small smooth square: low roughness per ink despite little ink
    assert roughness(small).item() < roughness(speckled).median().item()


# --- the U-Net ----------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_unet_predicts_noise_of_the_input_shape_and_round_trips(tmp_path):
    model = unet.DiffusionUNet(unet.UNetConfig(channels=(8, 16, 16), blocks_per_level=1)).eval()
    with torch.no_grad():
        for p in model.parameters():  # blocks and output start at zero by design; stand in for training
            p.add_(0.05 * torch.randn(p.shape, generator=torch_generator(1)))
        x = torch.randn(2, 1, 28, 28, generator=torch_generator())
        out = model(x, torch.tensor([3, 700]))
    assert out.shape == x.shape
    model.save_pretrained(tmp_path)
    loaded = unet.DiffusionUNet.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(loaded(x, torch.tensor([3, 700])), out)
        assert not torch.allclose(loaded(x, torch.tensor([4, 700])), out)  # t matters


# --- the bundled model --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ddpm_samples():
    """500 samples as the tab draws them by default (its sampler and step count, x̂_0 clamped)."""
    model = diffusion.load()
    _, sampler, steps, _ = tab.DEFAULT_RUN
    with torch.inference_mode():
        return torch.cat(
            [
                diffusion.to_image_range(
                    samplers.last_step(
                        samplers.sample(
                            model,
                            (250, 1, 28, 28),
                            tab.SAMPLERS[sampler],
                            steps,
                            torch_generator(seed),
                            x0_range=samplers.PIXEL_RANGE,
                        )
                    ).x_t
                )
                for seed in range(2)
            ]
        )


def test_ddpm_samples_are_rarely_speckled(ddpm_samples, real_roughness_limit):
    assert speckled_share(ddpm_samples, real_roughness_limit) <= 0.03


def test_the_tabs_default_grid_has_no_speckled_sample(real_roughness_limit):
    *_, history = tab.default_run()
    _, final_x_t, _ = history[-1]  # the replay's last step: the final samples as uint8
    assert len(final_x_t) == tab.DEFAULT_RUN[3]
    assert speckled_share(final_x_t.float() / 255.0, real_roughness_limit) == 0


def test_ddpm_samples_cover_every_class(ddpm_samples):
    shares = class_shares(ddpm_samples)
    assert min(shares.values()) >= 0.05, shares  # a tenth each would be the data's share


def test_ddpm_samples_are_far_closer_to_data_than_noise(ddpm_samples, sample_tensors):
    fd_samples, fd_noise = fd_samples_and_noise(ddpm_samples, sample_tensors[0])
    assert fd_samples < fd_noise / 4, (fd_samples, fd_noise)


def test_ddpm_samples_beat_the_gans_by_a_fifth_on_fd(ddpm_samples, sample_tensors):
    """The lecture's closing claim, measured: diffusion's samples are closer to the data than the GAN's."""
    from core import gan, latent

    model = gan.load("gan")
    with torch.inference_mode():
        gan_samples = model.generate(
            latent.sample_prior(len(ddpm_samples), model.config.latent_dim, torch_generator(1))
        )
    fd_ddpm, _ = fd_samples_and_noise(ddpm_samples, sample_tensors[0])
    fd_gan, _ = fd_samples_and_noise(gan_samples, sample_tensors[0])
    assert fd_ddpm <= 0.8 * fd_gan, (fd_ddpm, fd_gan)


def test_the_trained_model_predicts_noise_better_than_guessing_zero(sample_tensors):
    model = diffusion.load()
    x0 = diffusion.to_model_range(sample_tensors[0][:200])
    g = torch_generator(9)
    for t in (50, 500, 950):
        eps = torch.randn(x0.shape, generator=g)
        with torch.inference_mode():
            loss = diffusion.simple_loss(eps, model(diffusion.q_sample(x0, ALPHA_BARS[t].float(), eps), t)).item()
        assert loss < 0.5, (t, loss)  # predicting 0 scores 1.0


# --- the tab ------------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_forward_tab_shows_both_routes_and_the_numbers(sample):
    image = np.asarray(sample.images[0])
    closed, stepped, strip, text, chart = tab.forward(image, 250, 0)
    assert closed.shape == stepped.shape and closed.ndim == 2
    a_bar = ALPHA_BARS[249].item()
    assert f"ᾱ_t = {a_bar:.4f}" in text and "x_250" in text
    assert f"SNR = ᾱ_t / (1 − ᾱ_t) = {a_bar / (1 - a_bar):.3g}" in text
    # the noise the tab takes back out of x_t is N(0, 1) for both routes (784 pixels: the mean within ±0.15)
    numbers = re.search(
        r"Closed form: mean ([-+.\d]+), std ([.\d]+); 250 single steps: mean ([-+.\d]+), std ([.\d]+)", text
    ).groups()
    means, stds = [float(v) for v in numbers[::2]], [float(v) for v in numbers[1::2]]
    assert all(abs(m) < 0.15 for m in means) and all(abs(s - 1) < 0.15 for s in stds), numbers
    assert strip.width > strip.height * 5
    later = tab.forward(image, 750, 0)[4]
    assert chart.size == later.size and chart != later  # the chart marks t


@pytest.mark.fast
@pytest.mark.parametrize(
    "args, message",
    [
        ((None, 10, 0), "Pick an example"),
        (("image", 0, 0), "t must lie between 1 and 1000"),
        (("image", 1001, 0), "t must lie between"),
        (("image", 5.5, 0), "whole number"),
    ],
)
def test_forward_tab_rejects_bad_input(sample, args, message):
    image = np.asarray(sample.images[0])
    args = tuple(image if a == "image" else a for a in args)
    with pytest.raises(gr.Error, match=message):
        tab.forward(*args)


@pytest.mark.fast
def test_forward_tab_accepts_odd_image_modes():
    rgba = np.zeros((50, 70, 4), dtype=np.uint8)
    rgba[10:40, 20:50] = (200, 30, 30, 255)
    closed, *_ = tab.forward(rgba, 10, 1)
    x0 = tab._grid(diffusion.to_model_range(to_model_input(rgba))).astype(float)  # the square as the model reads it
    assert np.abs(closed - x0).mean() < 10  # x_10 is x_0 under a little noise (√(1 − ᾱ_10) ≈ 0.03)


def test_the_trained_model_gives_a_lightly_noised_image_back_and_a_heavily_noised_one_not(sample_tensors):
    model = diffusion.load()
    x0 = diffusion.to_model_range(sample_tensors[0][:50])
    errors = {}
    for t in (100, 900):
        x_t = diffusion.q_sample(x0, ALPHA_BARS[t - 1].float(), torch.randn(x0.shape, generator=torch_generator(t)))
        with torch.inference_mode():
            back = samplers.last_step(samplers.ddim_sample(model, x_t, ALPHAS, 50, start=t)).x_t
        errors[t] = (diffusion.to_image_range(back) - sample_tensors[0][:50]).pow(2).mean().item()
    assert errors[100] < 0.01 and errors[900] > 3 * errors[100], errors


def test_denoise_back_streams_the_three_panels(sample):
    frames = list(tab.denoise_back(np.asarray(sample.images[1]), 100, 0))
    strip, text = frames[-1]
    assert text.startswith("**Done.**") and "t = 20 → 0" in text and strip.width > 2.5 * strip.height


def test_sampling_streams_frames_and_ends_with_a_replay():
    frames = list(tab.sample(0, "DDIM", 10, 2))
    assert len(frames) >= 1
    first, last = frames[0], frames[-1]
    assert first[3] is None and first[5] == [] and first[4]["visible"] is False  # the last run's replay is cleared
    x_t, _x0_hat, status, final, position, history = last
    assert "step 10 of 10: t = 100 → 0" in status and final is x_t
    assert len(history) == 10 and position["maximum"] == 10
    replay_t, _replay_0, caption = tab.replay(history, 1)
    assert "step 1 of 10: t = 1000 → 900" in caption and replay_t.shape == x_t.shape


@pytest.mark.fast
def test_replay_rejects_positions_outside_the_run():
    history = [("step 1 of 1: t = 1000 → 0", np.zeros((2, 2)), np.zeros((2, 2)))]
    for bad in (0, 2, 1.5):
        with pytest.raises(gr.Error, match="replay position"):
            tab.replay(history, bad)
    with pytest.raises(gr.Error, match="Run the sampler first"):
        tab.replay([], 1)


def test_play_moves_the_replay_to_the_end_and_starts_over_from_the_last_step(monkeypatch):
    monkeypatch.setattr(tab, "PLAY_FRAME_S", 0.0)
    *_, history = list(tab.sample(0, "DDIM", 5, 1))[-1]
    frames = list(tab.play(history, 3))
    assert [frame[3]["value"] for frame in frames] == [3, 4, 5]
    assert "step 5 of 5" in frames[-1][2] and frames[-1][0].shape == tab.replay(history, 5)[0].shape
    assert [frame[3]["value"] for frame in tab.play(history, 5)] == [1, 2, 3, 4, 5]  # at the end: from the start
    for history_, position, message in (([], 1, "Run the sampler first"), (history, 9, "replay position")):
        with pytest.raises(gr.Error, match=message):
            list(tab.play(history_, position))


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, "Euler", 10, 2), "Choose a sampler"),
        ((0, "DDIM", 0, 2), "number of steps must lie between"),
        ((0, "DDIM", 7, 2), "must divide 1000"),
        ((0, "DPM-Solver++", 1001, 2), "number of steps must lie between"),
        ((0, "DDIM", 10, 17), "number of images must lie between"),
        ((-1, "DDIM", 10, 2), "seed"),
    ],
)
def test_sampling_rejects_bad_input(args, message):
    with pytest.raises(gr.Error, match=message):
        list(tab.sample(*args))


@pytest.mark.fast
def test_missing_checkpoint_gives_the_rebuild_command_and_forward_still_works(empty_checkpoints, sample):
    with pytest.raises(gr.Error, match="python -m core.train ddpm"):
        list(tab.sample(0, "DDIM", 10, 1))
    assert tab.forward(np.asarray(sample.images[0]), 10, 0)[3]  # the forward process needs no model


def test_every_visitor_gets_the_opening_runs_replay_at_its_last_step():
    from gradio.blocks import postprocess_update_dict

    for _ in range(2):  # Gradio pops an update's value as it sends it: the remembered run must hand out copies
        slider = tab.default_run()[4]
        assert slider["value"] == slider["maximum"] == tab.DEFAULT_RUN[2]  # 20 steps, every one kept
        postprocess_update_dict(gr.Slider(1, 2), slider)


@pytest.mark.fast
def test_on_stride_is_the_first_every_nth_and_the_last_step():
    """What a replay keeps and where the CLIP curve measures."""
    assert [step for step in range(1, 11) if samplers.on_stride(step, 10, 4)] == [1, 4, 8, 10]
    assert [step for step in range(1, 6) if samplers.on_stride(step, 5, 1)] == [1, 2, 3, 4, 5]
    assert [step for step in range(1, 4) if samplers.on_stride(step, 3, 10)] == [1, 3]
