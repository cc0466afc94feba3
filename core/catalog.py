"""The bundled models' names and the choices the tabs are laid out from, without torch.

The page is drawn before torch loads (core/lazy.py), so what a tab shows before any model runs (which checkpoints,
which latent sizes, which classes a translator was trained on) cannot come from the modules that define the
networks. Those modules take their names from here, so that each is written once.
"""

from __future__ import annotations

import json

from core.checkpoints import checkpoint_path
from core.datasets import FASHION_CLASSES

# --- VAE (core/vae.py) ---------------------------------------------------------------------------------------------
VAE_LATENT_SIZES = (2, 5, 20)  # the lecture's comparison


def vae_checkpoint_name(latent_dim: int) -> str:
    return f"vae_{latent_dim}"


# --- pix2pix (core/pix2pix.py) -------------------------------------------------------------------------------------
PIX2PIX_DATASETS = ("fashion", "emoji")  # the keys of core.pix2pix.PAIRED_SETS
PIX2PIX_OBJECTIVES = ("l1+cgan", "l1")
PIX2PIX_CHECKPOINTS = {
    (name, objective): f"pix2pix_{name}" + ("" if objective == "l1+cgan" else "_l1")
    for name in PIX2PIX_DATASETS
    for objective in PIX2PIX_OBJECTIVES
}

# --- unpaired translation (core/unpaired.py) -----------------------------------------------------------------------
UNPAIRED_CHECKPOINT = "unpaired"
UNPAIRED_DEFAULT_DOMAINS = (7, 9)  # Fashion-MNIST classes of domains U and V: Sneaker, Ankle boot


def unpaired_domains() -> tuple[int, int]:
    """The classes (U, V) the bundled translator was trained on, from its config.json without loading the weights
    (so the tab can name them as the page is drawn); the defaults where there is no readable config."""
    try:
        config = json.loads((checkpoint_path(UNPAIRED_CHECKPOINT) / "config.json").read_text())
        domains = int(config["domain_u"]), int(config["domain_v"])
    except (OSError, ValueError, KeyError, TypeError):
        return UNPAIRED_DEFAULT_DOMAINS
    return domains if all(0 <= d < len(FASHION_CLASSES) for d in domains) else UNPAIRED_DEFAULT_DOMAINS


# --- latent diffusion (core/latent_diffusion.py) -------------------------------------------------------------------
LDM_AUTOENCODER_CHECKPOINT = "ldm_autoencoder"
LDM_DENOISER_CHECKPOINT = "ldm"
LDM_DEFAULT_GUIDANCE = 4.0  # w of classifier-free guidance unless one is asked for
LDM_MAX_PROMPT_CHARACTERS = 200
