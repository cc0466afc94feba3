"""Recipe `stylegan`: mapping network + AdaIN synthesis at 28 px, trained with the GAN recipes' loop.

    python -m core.train stylegan     # about 45 minutes on 2 CPU cores

Beyond the plain GAN loop, as StyleGAN does: with probability `style_mixing` a batch is generated from two codes
mixed at a random layer (mixing regularisation), so the tab's style mixing shows images the discriminator has
judged; the shipped generator is an exponential moving average of G's weights; the truncation centre w_avg is the
mean of w over 10,000 codes of the shipped mapping network.
"""
import copy
from dataclasses import dataclass

import torch
from torch import nn

from core.checkpoints import save_model
from core.latent import sample_prior
from core.stylegan import StyleGAN, StyleGANConfig, style_mix
from core.train.common import ema_update, Stopwatch, make_card, output_root, start_recipe, fashion_mnist
from core.train.gan import evaluate, train_adversarial


@dataclass(frozen=True)
class TrainConfig:
    latent_dim: int = 64
    w_dim: int = 64
    mapping_layers: int = 8
    channels: tuple[int, ...] = (128, 64, 32)  # synthesis widths at 7, 14, 28 px
    epochs: int = 12
    batch_size: int = 64
    k: int = 1  # discriminator steps per generator step
    lr: float = 2e-4  # Adam
    beta1: float = 0.5
    mapping_lr_scale: float = 0.01  # the 8-layer MLP learns 100x slower than the synthesis network, as in
    # StyleGAN (0.1 here, over 8 epochs, left sandals at 0.3% and bags at 0.9% of samples)
    style_mixing: float = 0.5  # probability that a generated batch mixes two codes
    ema_decay: float = 0.999  # the shipped G is an exponential moving average of G's weights (as StyleGAN ships)
    generator_loss: str = "non_saturating"
    seed: int = 0
    bf16: str = "auto"
    dry_run: bool = False


def main(cfg: TrainConfig) -> dict:
    generator, device, bf16 = start_recipe(cfg)
    train_x, _, test_x, test_y = fashion_mnist(cfg.dry_run)
    config = StyleGANConfig(latent_dim=cfg.latent_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
                            channels=cfg.channels)
    model = StyleGAN(config).to(device).train()

    def generate(z: torch.Tensor, _y=None) -> torch.Tensor:
        ws = model.broadcast(model.map(z))
        if torch.rand((), generator=generator) < cfg.style_mixing:
            other = model.broadcast(model.map(sample_prior(len(z), cfg.latent_dim, generator).to(device)))
            crossover = int(torch.randint(1, model.num_ws, (), generator=generator))
            ws = style_mix(ws, other, crossover)
        return model.synthesis(ws)

    g_params = [{"params": model.mapping.parameters(), "lr": cfg.lr * cfg.mapping_lr_scale},
                {"params": model.synthesis.parameters()}]
    ema = copy.deepcopy(nn.ModuleList([model.mapping, model.synthesis])).requires_grad_(False)
    trained = nn.ModuleList([model.mapping, model.synthesis])

    def update_ema() -> None:
        ema_update(ema, trained, cfg.ema_decay)

    clock = Stopwatch()
    steps, curves = train_adversarial(
        cfg, name="stylegan", train_x=train_x, train_y=None, generate=generate,
        d_logit=lambda x, _y: model.discriminator(x), g_params=g_params, d_params=model.discriminator.parameters(),
        device=device, bf16=bf16, generator=generator, after_g_step=update_ema)

    trained.load_state_dict(ema.state_dict())  # ship the averaged generator
    model = model.cpu().eval()
    with torch.no_grad():  # the truncation centre of the shipped mapping network, from 10,000 codes
        model.w_avg.copy_(model.map(sample_prior(10_000, cfg.latent_dim, generator)).mean(0))
    metrics = evaluate(lambda z, _y: model.generate(z), lambda x, _y: model.d_probability(x), cfg.latent_dim, False,
                       test_x, test_y, generator)
    metrics["generator_loss"] = cfg.generator_loss
    card = make_card(
        "stylegan", cfg, defaults=TrainConfig(),
        data="Fashion-MNIST train (60,000 images, no labels); metrics: 1,000 samples (psi = 1) vs the test set"
        if not cfg.dry_run else "dry run: 64 bundled-sample images",
        steps=steps, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves,
    )
    folder = save_model(model, "stylegan", card, output_root(cfg.dry_run))
    print(f"stylegan: {metrics}; wrote {folder}")
    return card
