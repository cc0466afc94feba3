"""Every training recipe by name; the name is also the checkpoint folder it writes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from core.autoencoder import MODEL_CLASSES
from diffusers import AutoencoderKL, UNet2DConditionModel

from core.metrics import EvalClassifier
from core.gan import GAN
from core.stylegan import StyleGAN
from core.diffusion import DiffusionUNet
from core.pix2pix import Pix2Pix
from core.unpaired import DualGAN
from core.train import autoencoder, classifier, clip, diffusion, gan, latent_diffusion, pix2pix, stylegan, unpaired, vae
from transformers import CLIPModel
from core.vae import VAE


@dataclass(frozen=True)
class Recipe:
    config: Callable[[], Any]  # the recipe's default TrainConfig
    main: Callable[[Any], dict]  # trains, writes checkpoints/<name>/, returns the card
    model_class: type  # what `from_pretrained` loads the checkpoint with


RECIPES: dict[str, Recipe] = {
    "classifier": Recipe(classifier.TrainConfig, classifier.main, EvalClassifier),
    "pca": Recipe(autoencoder.PCATrainConfig, autoencoder.main_pca, MODEL_CLASSES["pca"]),
    **{f"ae_{kind}": Recipe(lambda d=defaults: d, autoencoder.main, MODEL_CLASSES[f"ae_{kind}"])
       for kind, defaults in autoencoder.DEFAULTS.items()},
    **{f"vae_{d}": Recipe(lambda c=defaults: c, vae.main, VAE) for d, defaults in vae.DEFAULTS.items()},
    **{name: Recipe(lambda c=defaults: c, gan.main, GAN) for name, defaults in gan.DEFAULTS.items()},
    "stylegan": Recipe(stylegan.TrainConfig, stylegan.main, StyleGAN),
    **{name: Recipe(lambda c=defaults: c, pix2pix.main, Pix2Pix) for name, defaults in pix2pix.DEFAULTS.items()},
    "unpaired": Recipe(unpaired.TrainConfig, unpaired.main, DualGAN),
    "clip": Recipe(clip.TrainConfig, clip.main, CLIPModel),
    "ddpm": Recipe(diffusion.TrainConfig, diffusion.main, DiffusionUNet),
    "ldm_autoencoder": Recipe(latent_diffusion.AutoencoderTrainConfig, latent_diffusion.main_autoencoder, AutoencoderKL),
    "ldm": Recipe(latent_diffusion.DenoiserTrainConfig, latent_diffusion.main_denoiser, UNet2DConditionModel),
}
