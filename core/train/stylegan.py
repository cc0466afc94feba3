"""Recipe `stylegan`: mapping network + AdaIN synthesis at 28 px, trained with the GAN recipes' loop.

    python -m core.train stylegan     # about 45 minutes on 2 CPU cores

Beyond the plain GAN loop, as StyleGAN does: with probability `style_mixing` a batch is generated from two codes
mixed at a random layer (mixing regularisation), so mixed styles show images the discriminator has
judged; the shipped generator is an exponential moving average of G's weights; the truncation centre w_avg is the
mean of w over 10,000 codes of the shipped mapping network.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from core.latent import sample_prior
from core.stylegan import StyleGAN, StyleGANConfig, style_mix
from core.train.gan import AdversarialConfig, AdversarialRecipe
from core.train.loop import Run, option


@dataclass(frozen=True)
class StyleGANTrainConfig(AdversarialConfig):
    model: StyleGANConfig = option(StyleGANConfig(), "mapping network, synthesis network and D")
    mapping_lr_scale: float = option(0.01, "the mapping MLP's learning rate as a fraction of lr (StyleGAN's 0.01)")
    style_mixing: float = option(0.5, "probability that a generated batch mixes two codes at a random layer")
    ema_decay: float = option(0.999, "the shipped G is this moving average of G's weights")


class StyleGANRecipe(AdversarialRecipe):
    data_note = "Fashion-MNIST train (60,000 images, no labels); metrics: 1,000 samples (psi = 1) vs the test set"

    def setup(self, run: Run) -> None:
        cfg = self.cfg
        self.stylegan = StyleGAN(cfg.model)
        self.trained = nn.ModuleList([self.stylegan.mapping, self.stylegan.synthesis])
        self.average = copy.deepcopy(self.trained).requires_grad_(False)
        self.models = {"stylegan": self.stylegan, "average": self.average}
        self.moving_averages = [(self.average, self.trained, cfg.ema_decay)]
        g_params = [
            {"params": self.stylegan.mapping.parameters(), "lr": cfg.lr * cfg.mapping_lr_scale},
            {"params": self.stylegan.synthesis.parameters()},
        ]
        self.setup_players(run, g_params, self.stylegan.discriminator.parameters())
        self.rng = run.rng

    def generate(self, z: torch.Tensor, _y=None) -> torch.Tensor:
        """G(z), with probability style_mixing from two codes crossed over at a random layer."""
        model = self.stylegan
        ws = model.broadcast(model.map(z))
        if torch.rand((), generator=self.rng) < self.cfg.style_mixing:
            other = model.broadcast(model.map(sample_prior(len(z), self.latent_dim, self.rng).to(z.device)))
            ws = style_mix(ws, other, int(torch.randint(1, model.num_ws, (), generator=self.rng)))
        return model.synthesis(ws)

    def d_logit(self, x: torch.Tensor, _y=None) -> torch.Tensor:
        return self.stylegan.discriminator(x)

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        self.trained.load_state_dict(self.average.state_dict())  # ship the averaged generator
        model = self.stylegan.cpu().eval()
        with torch.no_grad():  # the truncation centre of the shipped mapping network, from 10,000 codes
            model.w_avg.copy_(model.map(sample_prior(run.sized(10_000, 64), self.latent_dim, run.rng)).mean(0))
        return model, self.measure(run, lambda z, _y: model.generate(z), lambda x, _y: model.d_probability(x))
