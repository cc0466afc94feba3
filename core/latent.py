"""Paths through a latent space, shared by the VAE, the GANs and StyleGAN."""

from __future__ import annotations

from core.lazy import lazy_import

torch = lazy_import("torch")  # on first use (core/lazy.py)


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) z0 + t z1 for each t: (T,) -> (T, D)."""
    t = t.view(-1, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: along the great circle between z0 and z1, norms interpolated linearly.

    Under a Gaussian prior most mass sits near the sphere of radius sqrt(D); the straight line between two codes cuts
    inside it, through atypical, low-norm codes. slerp keeps the path near typical norms."""
    t = t.view(-1, 1)
    n0, n1 = z0.norm(), z1.norm()
    u0, u1 = z0 / n0.clamp(min=1e-8), z1 / n1.clamp(min=1e-8)
    cosine = (u0 * u1).sum()
    if 1 - cosine.abs() < 1e-6:  # (anti)parallel: no unique great circle; fall back to the straight line
        return lerp(z0, z1, t.flatten())
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * n0 + t * n1)


def sample_prior(n: int, latent_dim: int, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """z ~ N(0, temperature^2 I): temperature < 1 trades variety for typicality."""
    return temperature * torch.randn(n, latent_dim, generator=generator)


def noise_from_seed(seed: int, latent_dim: int, n: int = 1) -> torch.Tensor:
    """The n codes z ~ N(0, I) a seed stands for, (n, latent_dim): the same seed gives the same z everywhere."""
    return sample_prior(n, latent_dim, torch.Generator().manual_seed(int(seed)))
