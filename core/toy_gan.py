"""A GAN on 2-D points, trained live (in the spirit of GAN Lab): the lecture's training loop made visible.

The real distribution is a ring of 8 Gaussians, a 5x5 grid of Gaussians, or points a user drew. G and D are small
MLPs. Each iteration runs k discriminator steps then one generator step, exactly as the lecture's algorithm; every
few iterations a `ToyFrame` is yielded so a caller can stream real vs generated points, D's decision map and the
losses. Three objectives:

- "minimax": the lecture's V(D, G); G descends log(1 - D(G(z))).
- "non_saturating": G descends -log D(G(z)) instead.
- "wgan_gp": a remedy for mode collapse (Gulrajani et al. 2017): D becomes a critic with unbounded scores,
  L_D = E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)|| - 1)^2], L_G = -E[D(G(z))]
  (core.gan's wgan_critic_loss, gradient_penalty and wgan_generator_loss).

Quality is measured as in the 2-D experiments of the unrolled-GAN and VEEGAN papers (Metz et al. 2017, Srivastava
et al. 2017): a generated point is "high quality" when it lies within 3 standard deviations of a mode's centre; a
mode is covered when at least one such point is nearest it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from core.images import EmptyImageError
from core.lazy import lazy_import

# No network of its own (two MLPs from core.blocks): the tab's choices are read before torch loads (core/lazy.py).
torch = lazy_import("torch")
nn = lazy_import("torch.nn")
gan = lazy_import("core.gan")
blocks = lazy_import("core.blocks")

DISTRIBUTIONS = ("ring", "grid", "drawn")
LOSSES = ("minimax", "non_saturating", "wgan_gp")
MODE_STD = 0.05  # standard deviation of each Gaussian mode
EXTENT = 3.0  # points live in [-EXTENT, EXTENT]^2; the decision map covers the same square
MAP_RESOLUTION = 64  # D is evaluated on a MAP_RESOLUTION^2 grid for each frame


@dataclass(frozen=True)
class ToyGANConfig:
    distribution: str = "ring"  # ring of 8 | grid of 25 | drawn
    loss: str = "non_saturating"  # minimax | non_saturating | wgan_gp
    steps: int = 2000  # generator steps (iterations of the lecture's outer loop)
    k: int = 1  # discriminator steps per generator step
    batch_size: int = 256
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    latent_dim: int = 2  # z ~ N(0, I) in 2-D, so G is a warp of the plane
    hidden: int = 128  # width of both MLPs' two hidden layers
    gp_weight: float = 10.0  # lambda of the gradient penalty (wgan_gp only), the paper's value
    frame_every: int = 25  # yield a frame every this many generator steps
    seed: int = 0


# --- the real distributions -------------------------------------------------------------------------------------


def mode_centres(distribution: str) -> torch.Tensor:
    """Centres of the Gaussian modes: (8, 2) on a circle of radius 2, or (25, 2) on a grid with spacing 1."""
    if distribution == "ring":
        angles = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    if distribution == "grid":
        axis = torch.arange(-2.0, 3.0)
        return torch.cartesian_prod(axis, axis)
    raise ValueError(f"'{distribution}' has no modes; choose ring or grid.")


def points_from_ink(ink: np.ndarray, max_points: int = 4000) -> torch.Tensor:
    """A drawing (H, W) with ink in [0, 1] -> up to max_points 2-D points where it is inked, in [-EXTENT, EXTENT]^2
    (y up, as on the plots)."""
    rows, cols = np.nonzero(ink > 0.5)
    if len(rows) < 10:
        raise EmptyImageError("The drawing is empty: fewer than 10 of its pixels are inked.")
    h, w = ink.shape
    points = np.stack([cols / (w - 1), 1 - rows / (h - 1)], axis=1) * 2 * EXTENT - EXTENT
    if len(points) > max_points:
        points = points[np.random.default_rng(0).choice(len(points), max_points, replace=False)]
    return torch.tensor(points, dtype=torch.float32)


def real_sampler(
    distribution: str, drawn: torch.Tensor | None = None
) -> Callable[[int, torch.Generator], torch.Tensor]:
    """x ~ p_data: a function (n, generator) -> (n, 2)."""
    if distribution == "drawn":
        if drawn is None or len(drawn) == 0:
            raise ValueError("The 'drawn' distribution samples drawn points, and none were given.")

        def sample(n: int, generator: torch.Generator) -> torch.Tensor:
            pick = torch.randint(len(drawn), (n,), generator=generator)
            return drawn[pick] + 0.02 * torch.randn(n, 2, generator=generator)

        return sample
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"Unknown distribution '{distribution}'; choose one of {', '.join(DISTRIBUTIONS)}.")
    centres = mode_centres(distribution)

    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        pick = torch.randint(len(centres), (n,), generator=generator)
        return centres[pick] + MODE_STD * torch.randn(n, 2, generator=generator)

    return sample


def mode_metrics(samples: torch.Tensor, centres: torch.Tensor, std: float = MODE_STD) -> dict[str, float]:
    """The unrolled-GAN paper's two numbers: modes covered and the share of high-quality samples (within 3 std)."""
    distance, nearest = torch.cdist(samples, centres).min(dim=1)
    good = distance <= 3 * std
    return {
        "modes_covered": int(nearest[good].unique().numel()),
        "modes_total": len(centres),
        "high_quality_share": round(good.float().mean().item(), 4),
    }


# --- the players and their losses ---------------------------------------------------------------------------------


def toy_networks(config: ToyGANConfig, generator: torch.Generator) -> tuple[nn.Module, nn.Module]:
    """G: z (B, latent_dim) -> x (B, 2); D: x (B, 2) -> logit or critic score (B, 1). Two hidden layers each.

    Initialised from `generator` (PyTorch's default scheme), so a seed fixes the run without the global RNG."""
    width = config.hidden
    with torch.device("meta"):  # no default initialisation: it would draw from the process-wide RNG
        networks = blocks.mlp((config.latent_dim, width, width, 2)), blocks.mlp((2, width, width, 1))
    networks = tuple(net.to_empty(device="cpu") for net in networks)
    for layer in (m for net in networks for m in net if isinstance(m, nn.Linear)):
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return networks


def player_losses(loss: str) -> tuple[Callable, Callable]:
    """(D's loss from real and fake scores, G's loss from fake scores) for the chosen objective."""
    if loss == "minimax":
        return gan.discriminator_loss, gan.generator_loss_minimax
    if loss == "non_saturating":
        return gan.discriminator_loss, gan.generator_loss_non_saturating
    if loss == "wgan_gp":
        return gan.wgan_critic_loss, gan.wgan_generator_loss
    raise ValueError(f"Unknown loss '{loss}'; choose one of {', '.join(LOSSES)}.")


# --- training, streamed ---------------------------------------------------------------------------------------------


@dataclass
class ToyFrame:
    step: int  # generator steps done
    real: torch.Tensor  # (N, 2) a fixed batch of real points
    fake: torch.Tensor  # (N, 2) G(z) for a fixed batch of z, so frames show G moving, not new noise
    decision: torch.Tensor  # (MAP_RESOLUTION, MAP_RESOLUTION) D over the square; row 0 is the top (y = EXTENT)
    d_loss: float
    g_loss: float
    metrics: dict[str, float]  # modes covered and high-quality share (empty for drawn data)


def decision_map(discriminator: nn.Module, probability: bool) -> torch.Tensor:
    """D evaluated on a grid over [-EXTENT, EXTENT]^2: probabilities (minimax forms) or raw critic scores."""
    axis = torch.linspace(-EXTENT, EXTENT, MAP_RESOLUTION)
    ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    scores = discriminator(torch.stack([xs, ys], dim=-1).view(-1, 2)).view(MAP_RESOLUTION, MAP_RESOLUTION)
    return torch.sigmoid(scores) if probability else scores


def train(
    config: ToyGANConfig,
    drawn: torch.Tensor | None = None,
    shown_points: int = 512,
    max_frame_interval_s: float | None = None,
    min_frame_interval_s: float = 0.0,
) -> Iterator[ToyFrame]:
    """Train G and D from scratch with the lecture's loop; yield a frame every `frame_every` generator steps
    (and at step 0 and at the end), and also whenever `max_frame_interval_s` has passed since the last frame (slow
    settings still stream smoothly), but none except the last sooner than `min_frame_interval_s` after the one
    before: a frame due sooner comes that long after it (fast settings stream at a pace a viewer can follow, and
    draw fewer decision maps). Which steps are shown then depends on the machine; the training does not."""
    if config.loss not in LOSSES:
        raise ValueError(f"Unknown loss '{config.loss}'; choose one of {', '.join(LOSSES)}.")
    sample_real = real_sampler(config.distribution, drawn)
    generator = torch.Generator().manual_seed(config.seed)
    G, D = toy_networks(config, generator)
    betas = (0.5, 0.9) if config.loss == "wgan_gp" else (0.5, 0.999)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=betas)
    d_objective, g_objective = player_losses(config.loss)
    centres = None if config.distribution == "drawn" else mode_centres(config.distribution)
    shown_real = sample_real(shown_points, generator)
    shown_z = torch.randn(shown_points, config.latent_dim, generator=generator)
    d_loss = g_loss = float("nan")

    def frame(step: int) -> ToyFrame:
        with torch.no_grad():
            fake = G(shown_z)
            decision = decision_map(D, probability=config.loss != "wgan_gp")
        metrics = mode_metrics(fake, centres) if centres is not None else {}
        return ToyFrame(step, shown_real, fake, decision, d_loss, g_loss, metrics)

    yield frame(0)
    last_frame = time.perf_counter()
    owed = False  # a frame_every-th step passed since the last frame
    for step in range(1, config.steps + 1):
        for _ in range(config.k):  # D steps, G fixed
            real = sample_real(config.batch_size, generator)
            fake = G(torch.randn(config.batch_size, config.latent_dim, generator=generator)).detach()
            loss = d_objective(D(real).squeeze(1), D(fake).squeeze(1))
            if config.loss == "wgan_gp":
                loss = loss + config.gp_weight * gan.gradient_penalty(D, real, fake, generator)
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
            d_loss = loss.item()
        fake = G(torch.randn(config.batch_size, config.latent_dim, generator=generator))  # one G step, D fixed
        loss = g_objective(D(fake).squeeze(1))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        g_loss = loss.item()
        owed = owed or step % config.frame_every == 0
        since = time.perf_counter() - last_frame
        overdue = max_frame_interval_s is not None and since >= max_frame_interval_s
        if step == config.steps or ((owed or overdue) and since >= min_frame_interval_s):
            yield frame(step)
            last_frame, owed = time.perf_counter(), False
