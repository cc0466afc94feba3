"""Samplers: x_T ~ N(0, I) run backwards to x_0 with the reverse steps of core/diffusion.py.

DDPM (ancestral, all T steps, ddpm_reverse_step), DDIM (deterministic, fewer steps, ddim_reverse_step) and
DPM-Solver++ (a second-order solver of the same ODE, fewer still; diffusers' scheduler takes its steps). Each may
hold x̂_0 to the data's range (clamped_x0). Each sampler is a generator that yields every step, so a caller can
stream frames and a test can inspect them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.diffusion import (
    NUM_TRAIN_STEPS,
    alpha_bar,
    ddim_reverse_step,
    ddpm_reverse_step,
    eps_from_x0,
    noise_schedule,
    predicted_x0,
)
from core.lazy import lazy_import

torch = lazy_import("torch")  # on first use: the step counts lay out the page before torch loads (core/lazy.py)

if TYPE_CHECKING:  # diffusers is imported on first use: it adds seconds to the app's cold start
    from diffusers import DPMSolverMultistepScheduler


@dataclass(frozen=True)
class DiffusionStep:
    """One reverse step, numbered 1..total, from the lecture's t down to t_next (0 after the last step): x_t is the
    sample after the step, i.e. at t_next (x_0 at the end); x0_hat is the model's guess of x_0 made at t."""

    step: int
    total: int
    t: int
    t_next: int
    x_t: torch.Tensor
    x0_hat: torch.Tensor


def on_stride(step: int, total: int, every: int) -> bool:
    """The first step, every `every`-th and the last of a run numbered 1..total: the steps that a strided trace
    (the CLIP curve) or a replay keeps."""
    return step == 1 or step % every == 0 or step == total


SAMPLERS = ("ddim", "dpm++", "ddpm")  # core names; DDPM takes all T steps
FAST_STEP_COUNTS = (5, 10, 20, 25, 50, 100)  # the counts on offer: DPM-Solver++ takes any, DDIM a divisor of T


def ddim_step_counts(num_train_steps: int = NUM_TRAIN_STEPS) -> tuple[int, ...]:
    """The DDIM step counts that divide T: diffusers' DDIM strides by T // n, so only these land exactly on x_0."""
    return tuple(n for n in range(1, num_train_steps + 1) if num_train_steps % n == 0)


def check_step_count(sampler: str, num_steps: int, num_train_steps: int = NUM_TRAIN_STEPS) -> int:
    """The number of network calls a sampler will make: T for DDPM; for DDIM a divisor of T; for DPM-Solver++
    any count from 1 to T. Raises ValueError with the allowed counts otherwise."""
    if sampler == "ddpm":
        return num_train_steps
    if sampler == "ddim" and num_steps not in ddim_step_counts(num_train_steps):
        raise ValueError(
            f"DDIM steps must divide {num_train_steps}: one of "
            f"{', '.join(map(str, ddim_step_counts(num_train_steps)))}; not {num_steps}."
        )
    if sampler == "dpm++" and not 1 <= num_steps <= num_train_steps:
        raise ValueError(f"DPM-Solver++ takes 1 to {num_train_steps} steps, not {num_steps}.")
    if sampler not in SAMPLERS:
        raise ValueError(f"Choose a sampler among {', '.join(SAMPLERS)}, not {sampler!r}.")
    return num_steps


def scheduler_kwargs(alphas: torch.Tensor) -> dict:
    """Our schedule in diffusers' terms: its `betas` are the lecture's α_t. (x̂_0 is clamped by clamped_x0, before
    the scheduler sees ε̂, the same way for every sampler.)"""
    return dict(num_train_timesteps=len(alphas), trained_betas=alphas.tolist(), clip_sample=False)


PIXEL_RANGE = (-1.0, 1.0)  # the pixel model's data range: x̂_0 outside it is an error of the network


def clamped_x0(eps_model, alphas: torch.Tensor, low: torch.Tensor | float, high: torch.Tensor | float):
    """ε_θ with its x̂_0 held to the data's range: x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t is clamped to [low, high]
    (numbers, or per-channel tensors (C,)) and ε̂ re-derived from it, ε̂' = (x_t − √ᾱ_t clamp(x̂_0)) / √(1 − ᾱ_t).

    Every sampler then moves toward a guess inside the range (DDPM's and DDIM's clip_sample, Imagen's static
    thresholding). A guess outside it is a mistake of the network that a step would otherwise carry into x_(t−1):
    speckle in pixel space, blobs in latent space."""
    alpha_bars = alpha_bar(alphas)

    def shape(bound, x):
        bound = torch.as_tensor(bound, dtype=x.dtype, device=x.device)
        return bound.reshape(1, -1, *([1] * (x.dim() - 2))) if bound.dim() else bound

    def eps_clamped(x_t: torch.Tensor, t) -> torch.Tensor:
        eps_hat = eps_model(x_t, t).float()
        a = alpha_bars[int(t)].item()
        x0 = torch.maximum(torch.minimum(predicted_x0(x_t, a, eps_hat), shape(high, x_t)), shape(low, x_t))
        return eps_from_x0(x_t, a, x0)

    return eps_clamped


def ddim_timesteps(num_train_steps: int, num_steps: int, start: int | None = None) -> torch.Tensor:
    """The 0-based t DDIM visits: from `start` (default T − 1, pure noise) down by the stride T / num_steps while
    t ≥ 0 (diffusers' "trailing" spacing), so that a full run's last step lands on x_0."""
    check_step_count("ddim", num_steps, num_train_steps)
    start = num_train_steps - 1 if start is None else start
    return torch.arange(start, -1, -(num_train_steps // num_steps))


def dpm_solver_scheduler(alphas: torch.Tensor, num_steps: int) -> DPMSolverMultistepScheduler:
    """DPM-Solver++ (Lu et al. 2022), second-order multistep, over num_steps from t = T down to x_0: it solves the
    same reverse ODE that DDIM steps through to first order, so it needs fewer steps for the same samples."""
    check_step_count("dpm++", num_steps, len(alphas))
    from diffusers import DPMSolverMultistepScheduler

    scheduler = DPMSolverMultistepScheduler(
        num_train_timesteps=len(alphas),
        trained_betas=alphas.tolist(),
        algorithm_type="dpmsolver++",
        solver_order=2,
        timestep_spacing="trailing",
    )
    scheduler.set_timesteps(num_steps)
    return scheduler


def _run(
    update, timesteps: torch.Tensor, eps_model, x: torch.Tensor, alphas: torch.Tensor, x0_range: tuple | None
) -> Iterator[DiffusionStep]:
    """The reverse loop shared by the samplers: ε̂ = ε_θ(x_t, t) (its x̂_0 clamped to x0_range, see clamped_x0),
    x̂_0 from the closed form, then the sampler's `update(x_t, ε̂, i, t)` to the next t (i: the step's index)."""
    alpha_bars = alpha_bar(alphas)
    if x0_range is not None:
        eps_model = clamped_x0(eps_model, alphas, *x0_range)
    for i, t in enumerate(timesteps):
        eps_hat = eps_model(x, t).float()
        x0_hat = predicted_x0(x, alpha_bars[int(t)].item(), eps_hat)
        x = update(x, eps_hat, i, t)
        t_next = int(timesteps[i + 1]) + 1 if i + 1 < len(timesteps) else 0
        yield DiffusionStep(step=i + 1, total=len(timesteps), t=int(t) + 1, t_next=t_next, x_t=x, x0_hat=x0_hat)


def noise(shape: tuple[int, ...], generator: torch.Generator, on: torch.device | None = None) -> torch.Tensor:
    """z ~ N(0, I) (x_T, or a DDPM step's fresh noise), drawn on the generator's device (the CPU, so that a seed gives
    the same samples everywhere) and moved to `on`, the ε-network's device, where the loop runs."""
    return torch.randn(shape, generator=generator).to(on or "cpu")


def ddpm_sample(
    eps_model, x_T: torch.Tensor, alphas: torch.Tensor, generator: torch.Generator, x0_range: tuple | None = None
) -> Iterator[DiffusionStep]:
    """Ancestral DDPM sampling from x_T (noise(shape, ...)): all T steps x_{t−1} ~ p_θ(x_{t−1} | x_t), each adding
    fresh noise from `generator` (ddpm_reverse_step, the paper's Algorithm 2).

    `eps_model(x_t, t)` returns ε̂ (any conditioning and guidance live inside it). Yields every step. x0_range: (low,
    high) to clamp each x̂_0 to (see clamped_x0), or None. The loop runs on x_T's device.
    """

    def update(x_t, eps_hat, _, t):
        t = int(t)
        return ddpm_reverse_step(x_t, eps_hat, t, alphas, noise(x_t.shape, generator, x_t.device) if t else None)

    yield from _run(update, torch.arange(len(alphas) - 1, -1, -1), eps_model, x_T, alphas, x0_range)


def ddim_sample(
    eps_model,
    x_t: torch.Tensor,
    alphas: torch.Tensor,
    num_steps: int,
    start: int | None = None,
    x0_range: tuple | None = None,
) -> Iterator[DiffusionStep]:
    """DDIM (Song et al. 2021), deterministic (η = 0): the same trained ε_θ, but it jumps from t to t − T/num_steps,
    x_(t−Δ) = √ᾱ_(t−Δ) x̂_0 + √(1 − ᾱ_(t−Δ)) ε̂ (ddim_reverse_step). num_steps must divide T.

    From x_T (start None), only x_T is random. From a given x_t at the lecture's t = start (1-based), as SDEdit and
    img2img do: t, t − T/num_steps, ... while above 0, then x_0; a small t gives the image back, a large t a new one.
    """
    if start is not None and not 1 <= start <= len(alphas):
        raise ValueError(f"t must lie between 1 and {len(alphas)}, not {start}.")
    check_step_count("ddim", num_steps, len(alphas))
    alpha_bars, stride = alpha_bar(alphas), len(alphas) // num_steps
    timesteps = ddim_timesteps(len(alphas), num_steps, start=None if start is None else start - 1)

    def update(x, eps_hat, _, t):
        return ddim_reverse_step(x, eps_hat, int(t), int(t) - stride, alpha_bars)

    yield from _run(update, timesteps, eps_model, x_t, alphas, x0_range)


def dpm_solver_sample(
    eps_model, x_T: torch.Tensor, alphas: torch.Tensor, num_steps: int, x0_range: tuple | None = None
) -> Iterator[DiffusionStep]:
    """DPM-Solver++(2M) from x_T: deterministic like DDIM, but each update also uses the previous step's x̂_0 (a
    second-order multistep solver of the reverse ODE), so 10-20 steps come close to DDIM's 50. Any num_steps from 1 to
    T. diffusers' scheduler keeps the solver's history and takes the step."""
    scheduler = dpm_solver_scheduler(alphas, num_steps)

    def update(x_t, eps_hat, _, t):
        return scheduler.step(eps_hat, t, x_t).prev_sample

    yield from _run(update, scheduler.timesteps, eps_model, x_T, alphas, x0_range)


def sample(
    eps_model,
    shape: tuple[int, ...],
    sampler: str,
    num_steps: int,
    generator: torch.Generator,
    alphas: torch.Tensor | None = None,
    on: torch.device | None = None,
    x0_range: tuple | None = None,
) -> Iterator[DiffusionStep]:
    """`ddpm` (all T steps; num_steps is ignored), `ddim` or `dpm++` (num_steps of them) from x_T ~ N(0, I), run on
    `on` (the ε-network's device; default the CPU). x0_range: (low, high) to clamp each x̂_0 to, e.g. PIXEL_RANGE
    (see clamped_x0); None leaves it free."""
    alphas = noise_schedule() if alphas is None else alphas
    check_step_count(sampler, num_steps, len(alphas))
    x_T = noise(shape, generator, on)
    if sampler == "ddpm":
        return ddpm_sample(eps_model, x_T, alphas, generator, x0_range)
    if sampler == "ddim":
        return ddim_sample(eps_model, x_T, alphas, num_steps, x0_range=x0_range)
    return dpm_solver_sample(eps_model, x_T, alphas, num_steps, x0_range)


def last_step(steps: Iterator[DiffusionStep]) -> DiffusionStep:
    """Run a sampler to the end and return its final step."""
    final = deque(steps, maxlen=1)
    if not final:
        raise ValueError("The sampler took no steps.")
    return final[0]
