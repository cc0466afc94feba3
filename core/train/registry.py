"""Every training recipe by name; the name is also the checkpoint folder it writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPModel

from core.autoencoder import MODEL_CLASSES
from core.gan import GAN
from core.metrics import EvalClassifier
from core.pix2pix import Pix2Pix
from core.stylegan import StyleGAN
from core.train import autoencoder, classifier, clip, diffusion, gan, latent_diffusion, pix2pix, stylegan, unpaired, vae
from core.train.loop import Recipe, TrainConfig, train
from core.unet import DiffusionUNet
from core.unpaired import DualGAN
from core.vae import VAE


@dataclass(frozen=True)
class Entry:
    name: str
    recipe: type[Recipe]
    config: TrainConfig  # this name's defaults
    model_class: type  # what `from_pretrained` loads the checkpoint with

    def main(self, cfg: TrainConfig | None = None) -> dict[str, Any]:
        """Train (or, with evaluate_only, re-measure) and return the card."""
        return train(self.recipe(cfg if cfg is not None else self.config, self.config, self.name))


def _entries() -> list[Entry]:
    entries = [
        Entry("classifier", classifier.ClassifierRecipe, classifier.ClassifierTrainConfig(), EvalClassifier),
        Entry("pca", autoencoder.PCARecipe, autoencoder.PCATrainConfig(), MODEL_CLASSES["pca"]),
    ]
    entries += [
        Entry(name, autoencoder.AutoencoderRecipe, config, MODEL_CLASSES[name])
        for name, config in autoencoder.DEFAULTS.items()
    ]
    entries += [Entry(name, vae.VAERecipe, config, VAE) for name, config in vae.DEFAULTS.items()]
    entries += [Entry(name, gan.GANRecipe, config, GAN) for name, config in gan.DEFAULTS.items()]
    entries.append(Entry("stylegan", stylegan.StyleGANRecipe, stylegan.StyleGANTrainConfig(), StyleGAN))
    entries += [Entry(name, pix2pix.Pix2PixRecipe, config, Pix2Pix) for name, config in pix2pix.DEFAULTS.items()]
    entries += [
        Entry("unpaired", unpaired.UnpairedRecipe, unpaired.UnpairedTrainConfig(), DualGAN),
        Entry("clip", clip.CLIPRecipe, clip.CLIPTrainConfig(), CLIPModel),
        Entry("ddpm", diffusion.DDPMRecipe, diffusion.DDPMTrainConfig(), DiffusionUNet),
        Entry(
            "ldm_autoencoder",
            latent_diffusion.AutoencoderRecipe,
            latent_diffusion.AutoencoderTrainConfig(),
            AutoencoderKL,
        ),
        Entry("ldm", latent_diffusion.DenoiserRecipe, latent_diffusion.DenoiserTrainConfig(), UNet2DConditionModel),
    ]
    return entries


RECIPES: dict[str, Entry] = {entry.name: entry for entry in _entries()}
