"""Denoising diffusion (Ho et al. 2020) in the lecture's notation: the forward process and one reverse step.

The lecture writes the forward step with α_t as the step's *noise variance* (β_t in the DDPM paper):

    x_t = √(1 − α_t) · x_{t−1} + √α_t · ε_t,          ε_t ~ N(0, I)

and, composing the steps, the closed form

    x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε,   ᾱ_t = ∏_{s≤t} (1 − α_s),   i.e. q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I).

A network ε_θ(x_t, t) learns to predict the noise with the simplified loss ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖².
Sampling starts from x_T ~ N(0, I) and removes the predicted noise step by step: ddpm_reverse_step (the DDPM
paper's Algorithm 2) and ddim_reverse_step here; the samplers that chain them are in core/samplers.py.

Indices: the lecture counts t = 1..T; tensors here are indexed 0..T−1, so `alphas[t - 1]` is the lecture's α_t.
The U-Net takes the 0-based index, as diffusers' schedulers do.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.checkpoints import load_model
from core.lazy import lazy_import
from core.runtime import MODELS

if TYPE_CHECKING:
    from core.unet import DiffusionUNet

# The schedule's numbers (T, α_1, α_T) lay out the page before torch loads (core/lazy.py): torch on first use.
torch = lazy_import("torch")
F = lazy_import("torch.nn.functional")

NUM_TRAIN_STEPS = 1000  # T, the DDPM paper's
ALPHA_START, ALPHA_END = 1e-4, 0.02  # the lecture's α_1 and α_T (the paper's β_1, β_T), linear in between


# ---- the forward process ------------------------------------------------------------------------------------------


def noise_schedule(
    num_steps: int = NUM_TRAIN_STEPS, alpha_start: float = ALPHA_START, alpha_end: float = ALPHA_END
) -> torch.Tensor:
    """The lecture's α_1..α_T (each step's noise variance), linear from alpha_start to alpha_end; float64 (T,)."""
    return torch.linspace(alpha_start, alpha_end, num_steps, dtype=torch.float64)


def alpha_bar(alphas: torch.Tensor) -> torch.Tensor:
    """ᾱ_t = ∏_{s≤t} (1 − α_s): the share of x_0's variance left in x_t (T,)."""
    return torch.cumprod(1.0 - alphas, dim=0)


def signal_to_noise(alpha_bars: torch.Tensor) -> torch.Tensor:
    """SNR(t) = ᾱ_t / (1 − ᾱ_t): signal power over noise power in x_t."""
    return alpha_bars / (1.0 - alpha_bars)


def forward_step(x_prev: torch.Tensor, alpha_t: float | torch.Tensor, eps_t: torch.Tensor) -> torch.Tensor:
    """One step of the forward process: x_t = √(1 − α_t) · x_{t−1} + √α_t · ε_t."""
    alpha_t = torch.as_tensor(alpha_t, dtype=x_prev.dtype)
    return torch.sqrt(1.0 - alpha_t) * x_prev + torch.sqrt(alpha_t) * eps_t


def _per_item(alpha_bar_t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """ᾱ_t as a number, or one value per batch item shaped (B, 1, ...) to broadcast over `like`'s images."""
    a = torch.as_tensor(alpha_bar_t, dtype=like.dtype, device=like.device)
    return a.reshape(-1, *([1] * (like.dim() - 1))) if a.dim() else a


def q_sample(x0: torch.Tensor, alpha_bar_t: torch.Tensor | float, eps: torch.Tensor) -> torch.Tensor:
    """The closed form x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε; alpha_bar_t is a number or one value per batch item."""
    a = _per_item(alpha_bar_t, x0)
    return torch.sqrt(a) * x0 + torch.sqrt(1.0 - a) * eps


def predicted_x0(x_t: torch.Tensor, alpha_bar_t: torch.Tensor | float, eps_hat: torch.Tensor) -> torch.Tensor:
    """The closed form solved for x_0 with the predicted noise: x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t."""
    a = _per_item(alpha_bar_t, x_t)
    return (x_t - torch.sqrt(1.0 - a) * eps_hat) / torch.sqrt(a)


def eps_from_x0(x_t: torch.Tensor, alpha_bar_t: torch.Tensor | float, x0: torch.Tensor) -> torch.Tensor:
    """The closed form solved for the noise: ε = (x_t − √ᾱ_t · x_0) / √(1 − ᾱ_t), the ε that q_sample mixed into x_t
    (N(0, I) when x_t ~ q(x_t | x_0))."""
    a = _per_item(alpha_bar_t, x_t)
    return (x_t - torch.sqrt(a) * x0) / torch.sqrt(1.0 - a)


def simple_loss(eps: torch.Tensor, eps_hat: torch.Tensor) -> torch.Tensor:
    """The DDPM paper's simplified objective ‖ε − ε_θ(x_t, t)‖², averaged over pixels and the batch."""
    return F.mse_loss(eps_hat.float(), eps.float())


# ---- the reverse process, one step ----------------------------------------------------------------------------


def posterior_variance(alphas: torch.Tensor) -> torch.Tensor:
    """β̃_t = α_t (1 − ᾱ_(t−1)) / (1 − ᾱ_t), ᾱ_0 = 1: the variance of q(x_(t−1) | x_t, x_0), 0 at the first step (T,)."""
    alpha_bars = alpha_bar(alphas)
    alpha_bars_prev = torch.cat([alpha_bars.new_ones(1), alpha_bars[:-1]])
    return alphas * (1.0 - alpha_bars_prev) / (1.0 - alpha_bars)


def ddpm_reverse_step(
    x_t: torch.Tensor, eps_hat: torch.Tensor, t: int, alphas: torch.Tensor, noise: torch.Tensor | None
) -> torch.Tensor:
    """One step of the DDPM paper's Algorithm 2 (sampling), in the lecture's notation (α_t the step's noise variance):

        x_(t−1) = (x_t − α_t / √(1 − ᾱ_t) · ε̂) / √(1 − α_t) + σ_t z,   z ~ N(0, I),   no noise at the last step,

    with σ_t² = β̃_t = α_t (1 − ᾱ_(t−1)) / (1 − ᾱ_t), the posterior variance (posterior_variance; diffusers'
    DDPMScheduler's default variance_type "fixed_small"). The paper writes the same step with its α_t = 1 − β_t:
    x_(t−1) = 1/√α_t (x_t − (1 − α_t)/√(1 − ᾱ_t) ε̂) + σ_t z, and finds σ_t² = β_t about as good.

    t is the 0-based index into `alphas`, as the U-Net and diffusers count (the lecture's t − 1): t = 0 is the last
    step, to x_0, and adds no noise (`noise` may then be None). noise: z, shaped like x_t."""
    a, a_bar = alphas[t].item(), alpha_bar(alphas)[t].item()
    mean = (x_t - a / math.sqrt(1.0 - a_bar) * eps_hat) / math.sqrt(1.0 - a)
    if t == 0:
        return mean
    if noise is None:
        raise ValueError("A DDPM step above t = 0 adds noise: pass `noise`, z ~ N(0, I) shaped like x_t.")
    return mean + math.sqrt(posterior_variance(alphas)[t].item()) * noise


def ddim_reverse_step(
    x_t: torch.Tensor,
    eps_hat: torch.Tensor,
    t: int,
    t_prev: int,
    alpha_bars: torch.Tensor,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """One DDIM step (Song et al. 2021, eq. 12) from t to an earlier t' (any stride), through the guess x̂_0:

        x_(t') = √ᾱ_(t') x̂_0 + √(1 − ᾱ_(t') − σ²) ε̂ + σ z,   x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t,
        σ = η √((1 − ᾱ_(t')) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_(t')),   z ~ N(0, I).

    η = 0: deterministic (only x_T is random); η = 1: DDPM's noise level (σ² = β̃ for consecutive steps).
    t, t_prev are 0-based indices into alpha_bars, as in ddpm_reverse_step; t_prev < 0 is the end, x_0 itself
    (ᾱ = 1, diffusers' set_alpha_to_one). noise: z shaped like x_t, needed when η > 0."""
    a_bar = alpha_bars[t].item()
    a_bar_prev = alpha_bars[t_prev].item() if t_prev >= 0 else 1.0
    sigma = eta * math.sqrt((1.0 - a_bar_prev) / (1.0 - a_bar) * (1.0 - a_bar / a_bar_prev))
    x_prev = (
        math.sqrt(a_bar_prev) * predicted_x0(x_t, a_bar, eps_hat) + math.sqrt(1.0 - a_bar_prev - sigma**2) * eps_hat
    )
    if sigma == 0.0:
        return x_prev
    if noise is None:
        raise ValueError("DDIM with η > 0 adds noise: pass `noise`, z ~ N(0, I) shaped like x_t.")
    return x_prev + sigma * noise


# ---- the shipped pixel-space model -------------------------------------------------------------------------------


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> the model's [−1, 1] (so that x_T ~ N(0, I) has the data's scale)."""
    return images * 2.0 - 1.0


def to_image_range(x: torch.Tensor) -> torch.Tensor:
    """The model's [−1, 1] -> [0, 1], clamped for display and for the classifier."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def load(name: str = "ddpm") -> DiffusionUNet:
    """The bundled pixel-space ε-predictor, cached."""
    from core.unet import DiffusionUNet

    return MODELS.get(name, lambda: load_model(DiffusionUNet, name))
