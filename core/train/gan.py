"""Recipes `gan` (unconditional DCGAN) and `cgan` (conditional: the class goes to G and D).

    python -m core.train gan      # about 15 minutes on 2 CPU cores
    python -m core.train cgan

The lecture's algorithm: for each iteration, k steps of D ascending log D(x) + log(1 - D(G(z))), then one step of G.
G descends the non-saturating -log D(G(z)) (see core/gan.py for why); the card says so.
"""
from dataclasses import dataclass
from typing import Callable

import torch

from core import runtime
from core.checkpoints import save_model
from core.gan import (GAN, NUM_CLASSES, GANConfig, discriminator_loss, generator_loss_minimax,
                      generator_loss_non_saturating)
from core.latent import sample_prior
from core.metrics import (class_consistency, class_consistency_by_class, class_histogram, classifier_outputs,
                          frechet_distance, classifier_if_trained)
from core.train.common import (Stopwatch, endless_minibatches, make_card, output_root, progress, start_recipe,
                               fashion_mnist)

SAMPLES_FOR_METRICS = 1000


@dataclass(frozen=True)
class TrainConfig:
    conditional: bool = False  # True: the class vector goes to both G and D (recipe `cgan`)
    latent_dim: int = 64
    channels: int = 64
    epochs: int = 12
    batch_size: int = 64
    k: int = 1  # discriminator steps per generator step (the lecture's inner loop)
    lr: float = 2e-4  # Adam, both players (DCGAN's setting)
    beta1: float = 0.5  # DCGAN's Adam momentum: 0.9 oscillates
    generator_loss: str = "non_saturating"  # or "minimax": the lecture's log(1 - D(G(z)))
    seed: int = 0
    bf16: str = "auto"  # bf16 autocast where this CPU has bf16 units (2-3x faster convolutions here)
    dry_run: bool = False  # two steps on the bundled sample; writes to a temporary folder


DEFAULTS = {"gan": TrainConfig(), "cgan": TrainConfig(conditional=True)}


def recipe_name(cfg: TrainConfig) -> str:
    return "cgan" if cfg.conditional else "gan"


@torch.inference_mode()
def evaluate(generate: Callable, d_probability: Callable, latent_dim: int, conditional: bool,
             test_x: torch.Tensor, test_y: torch.Tensor, generator: torch.Generator) -> dict:
    """FD of 1,000 samples to the test set, class shares (mode coverage), class consistency (conditional),
    and D's probabilities on real test images and on fakes (the lecture: D drifts to about 0.5)."""
    n = SAMPLES_FOR_METRICS
    z = sample_prior(n, latent_dim, generator)
    requested = torch.arange(n) % NUM_CLASSES if conditional else None
    samples = generate(z, requested)
    real_y = test_y[:n] if conditional else None
    metrics = {
        "discriminator_on_real_mean": round(d_probability(test_x[:n], real_y).mean().item(), 4),
        "discriminator_on_fake_mean": round(d_probability(samples, requested).mean().item(), 4),
    }
    classifier = classifier_if_trained()
    if classifier is None:
        return metrics
    sample_features, predictions = classifier_outputs(classifier, samples)
    test_features, _ = classifier_outputs(classifier, test_x)
    shares = class_histogram(predictions)
    metrics |= {"fd_samples_vs_test": round(frechet_distance(sample_features, test_features), 3),
                "min_class_share_of_samples": min(shares.values()), "class_shares_of_samples": shares}
    if conditional:
        metrics["class_consistency"] = round(class_consistency(predictions, requested), 4)
        metrics["class_consistency_by_class"] = class_consistency_by_class(predictions, requested)
    return metrics


def train_adversarial(cfg, *, name: str, train_x: torch.Tensor, train_y: torch.Tensor | None,
                      generate: Callable, d_logit: Callable, g_params, d_params, device: torch.device, bf16: bool,
                      generator: torch.Generator, after_g_step: Callable[[], None] | None = None) -> tuple[int, dict]:
    """The lecture's training loop, shared by the GAN, cGAN and StyleGAN recipes.

    Each iteration: k discriminator steps (G fixed), each on a fresh real minibatch and fresh noise, then one
    generator step (D fixed). `generate(z, y)` and `d_logit(x, y)` hide the model; y is None when unconditional.
    Returns the number of iterations and per-epoch curves of both losses and of D's mean outputs.
    """
    conditional = train_y is not None
    opt_d = torch.optim.Adam(d_params, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    objectives = {"non_saturating": generator_loss_non_saturating, "minimax": generator_loss_minimax}
    if cfg.generator_loss not in objectives:
        raise ValueError(f"generator_loss must be one of {sorted(objectives)}, not {cfg.generator_loss!r}.")
    g_objective = objectives[cfg.generator_loss]
    iterations_per_epoch = 2 if cfg.dry_run else max(1, len(train_x) // (cfg.batch_size * cfg.k))
    epochs = 1 if cfg.dry_run else cfg.epochs
    curves = {k: [] for k in ("d_loss", "g_loss", "d_on_real", "d_on_fake")}
    bar = progress(epochs * iterations_per_epoch, name)

    def noise_and_classes(m: int):
        z = sample_prior(m, cfg.latent_dim, generator).to(device)
        y = torch.randint(NUM_CLASSES, (m,), generator=generator).to(device) if conditional else None
        return z, y

    batches = endless_minibatches(len(train_x), cfg.batch_size, generator)
    for _ in range(epochs):
        sums = torch.zeros(4)
        for _ in range(iterations_per_epoch):
            for _ in range(cfg.k):  # the lecture's inner loop: update D with G fixed
                index = next(batches)
                x = train_x[index].to(device)
                y = train_y[index].to(device) if conditional else None
                z, y_fake = noise_and_classes(len(index))
                with runtime.autocast(bf16, device):
                    real_logits = d_logit(x, y).float()
                    fake_logits = d_logit(generate(z, y_fake).detach(), y_fake).float()
                    d_loss = discriminator_loss(real_logits, fake_logits)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            z, y_fake = noise_and_classes(cfg.batch_size)  # then update G with D fixed
            with runtime.autocast(bf16, device):
                g_loss = g_objective(d_logit(generate(z, y_fake), y_fake).float())
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if after_g_step is not None:
                after_g_step()
            sums += torch.tensor([d_loss.item(), g_loss.item(), torch.sigmoid(real_logits).mean().item(),
                                  torch.sigmoid(fake_logits).mean().item()])
            bar.update(1)
            bar.set_postfix(d=f"{d_loss.item():.2f}", g=f"{g_loss.item():.2f}", refresh=False)
        for key, total in zip(curves, sums.tolist()):
            curves[key].append(round(total / iterations_per_epoch, 4))
    bar.close()
    return epochs * iterations_per_epoch, curves


def main(cfg: TrainConfig) -> dict:
    recipe = recipe_name(cfg)
    generator, device, bf16 = start_recipe(cfg)
    train_x, train_y, test_x, test_y = fashion_mnist(cfg.dry_run)
    model = GAN(GANConfig(latent_dim=cfg.latent_dim, channels=cfg.channels,
                          num_classes=NUM_CLASSES if cfg.conditional else 0)).to(device).train()
    clock = Stopwatch()
    steps, curves = train_adversarial(
        cfg, name=recipe, train_x=train_x, train_y=train_y if cfg.conditional else None,
        generate=model.generate, d_logit=model.d_logit, g_params=model.generator.parameters(),
        d_params=model.discriminator.parameters(), device=device, bf16=bf16, generator=generator)

    model = model.cpu().eval()
    metrics = evaluate(model.generate, model.d_probability, model.config.latent_dim, model.conditional,
                       test_x, test_y, generator)
    metrics["generator_loss"] = cfg.generator_loss
    card = make_card(
        recipe, cfg, defaults=DEFAULTS[recipe],
        data="Fashion-MNIST train (60,000), labels used only by cgan; metrics: 1,000 samples vs the test set"
        if not cfg.dry_run else "dry run: 64 bundled-sample images",
        steps=steps, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves,
    )
    folder = save_model(model, recipe, card, output_root(cfg.dry_run))
    print(f"{recipe}: {metrics}; wrote {folder}")
    return card
