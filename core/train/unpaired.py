"""Recipe `unpaired`: DualGAN/CycleGAN between Fashion-MNIST sneakers (U) and ankle boots (V), without pairs.

    python -m core.train unpaired      # about 15 minutes on 2 CPU cores

Each step draws a minibatch of sneakers and, independently, one of ankle boots (mirrored at random), then
one step of both generators on the least-squares adversarial terms plus the lecture's cycle loss
λ_U ||u − G_B(G_A(u))|| + λ_V ||v − G_A(G_B(v))||, then one step of both discriminators. The card measures on
the held-out test images: the share of translations the evaluation classifier reads as the target class, the
mean cycle L1 in both directions, and the Fréchet distance of translations to real images of the target class.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core import runtime
from core.checkpoints import save_model
from core.metrics import classifier_outputs, frechet_distance, classifier_if_trained
from core.train.augment import mirror
from core.train.common import (IntervalMeans, Stopwatch, endless_minibatches, learning_rate, make_card,
                               optimizer_step, output_root, progress, start_recipe, fashion_mnist)
from core.unpaired import (CHECKPOINT, DualGAN, UnpairedConfig, cycle_loss,
                           least_squares_discriminator_loss, least_squares_generator_loss, to_model)


@dataclass(frozen=True)
class TrainConfig:
    domain_u: int = 7  # Sneaker
    domain_v: int = 9  # Ankle boot
    steps: int = 5000
    batch_size: int = 32
    lr: float = 2e-4  # Adam, beta1 = 0.5, for all four networks (CycleGAN's settings)
    beta1: float = 0.5
    warmup_steps: int = 0  # then cosine decay to a tenth
    lambda_u: float = 10.0  # CycleGAN's λ for both cycles
    lambda_v: float = 10.0
    base_channels: int = 32
    max_channels: int = 128
    seed: int = 0
    bf16: str = "auto"
    dry_run: bool = False


@torch.inference_mode()
def evaluate(model: DualGAN, test_u: torch.Tensor, test_v: torch.Tensor) -> dict:
    """Per direction: translation success rate (classified as the target class), the same rate for untranslated
    inputs (the baseline), mean cycle L1, and FD of translations to real test images of the target class."""
    metrics: dict = {}
    classifier = classifier_if_trained()
    for direction, source, target, target_class in (("u->v", test_u, test_v, model.config.domain_v),
                                                    ("v->u", test_v, test_u, model.config.domain_u)):
        translated, cycled = model.cycle(source, direction)
        key = direction.replace("->", "_to_")
        metrics[f"{key}_cycle_l1"] = round((source - cycled).abs().mean().item(), 4)
        if classifier is None:
            continue
        features, predicted = classifier_outputs(classifier, translated)
        _, predicted_source = classifier_outputs(classifier, source)
        target_features, _ = classifier_outputs(classifier, target)
        metrics[f"{key}_success_rate"] = round((predicted == target_class).float().mean().item(), 4)
        metrics[f"{key}_untranslated_read_as_target"] = round((predicted_source == target_class).float().mean().item(), 4)
        metrics[f"{key}_fd_to_target_test"] = round(frechet_distance(features, target_features), 3)
    return metrics


def main(cfg: TrainConfig) -> dict:
    generator, device, bf16 = start_recipe(cfg)
    train_x, train_y, test_x, test_y = fashion_mnist(cfg.dry_run)
    train_u, train_v = train_x[train_y == cfg.domain_u], train_x[train_y == cfg.domain_v]
    test_u, test_v = test_x[test_y == cfg.domain_u], test_x[test_y == cfg.domain_v]
    if min(len(train_u), len(train_v)) == 0:
        raise ValueError("Both domains need training images.")
    model = DualGAN(UnpairedConfig(domain_u=cfg.domain_u, domain_v=cfg.domain_v, base_channels=cfg.base_channels,
                                   max_channels=cfg.max_channels)).to(device).train()
    generators = [*model.g_a.parameters(), *model.g_b.parameters()]
    discriminators = [*model.d_a.parameters(), *model.d_b.parameters()]
    opt_g = torch.optim.Adam(generators, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(discriminators, lr=cfg.lr, betas=(cfg.beta1, 0.999))
    steps = 2 if cfg.dry_run else cfg.steps
    batches_u = endless_minibatches(len(train_u), cfg.batch_size, generator)
    batches_v = endless_minibatches(len(train_v), cfg.batch_size, generator)  # independent: no pairs
    curves = IntervalMeans(("g_adversarial", "cycle", "d_loss"))
    clock = Stopwatch()
    bar = progress(steps, CHECKPOINT)
    for step in range(steps):
        u = to_model(mirror(train_u[next(batches_u)], generator=generator)[0]).to(device)  # (B, 1, 32, 32) in [-1, 1]
        v = to_model(mirror(train_v[next(batches_v)], generator=generator)[0]).to(device)
        lr = learning_rate(step, cfg)
        model.d_a.requires_grad_(False)
        model.d_b.requires_grad_(False)
        with runtime.autocast(bf16, device):
            fake_v, fake_u = model.g_a(u), model.g_b(v)  # G_A(u), G_B(v)
            u_cycled, v_cycled = model.g_b(fake_v), model.g_a(fake_u)
            g_adversarial = (least_squares_generator_loss(model.d_a(fake_v).float())
                             + least_squares_generator_loss(model.d_b(fake_u).float()))
        cycle = cycle_loss(u, u_cycled.float(), v, v_cycled.float(), cfg.lambda_u, cfg.lambda_v)
        optimizer_step(opt_g, g_adversarial + cycle, lr)
        model.d_a.requires_grad_(True)
        model.d_b.requires_grad_(True)
        with runtime.autocast(bf16, device):  # D_A: real v vs G_A(u); D_B: real u vs G_B(v)
            d_loss = (least_squares_discriminator_loss(model.d_a(v).float(), model.d_a(fake_v.detach()).float())
                      + least_squares_discriminator_loss(model.d_b(u).float(), model.d_b(fake_u.detach()).float()))
        optimizer_step(opt_d, d_loss, lr)
        curves.add(g_adversarial.item(), cycle.item(), d_loss.item(), last=step + 1 == steps)
        bar.update(1)
        bar.set_postfix(g=f"{g_adversarial.item():.2f}", cyc=f"{cycle.item():.3f}", d=f"{d_loss.item():.2f}",
                        refresh=False)
    bar.close()
    training_seconds = clock.seconds

    model = model.cpu().eval().half().float()  # stored as float16: measure the weights that ship
    metrics = {"training_seconds": training_seconds, "seconds_per_training_step": round(training_seconds / steps, 3),
               "adversarial_loss": "least squares (CycleGAN's form); cycle loss with L1 norms",
               "domains": {"u": model.domain_names[0], "v": model.domain_names[1]}}
    metrics |= evaluate(model, test_u, test_v)
    card = make_card(
        CHECKPOINT, cfg, defaults=TrainConfig(),
        data=(f"Fashion-MNIST train: {len(train_u):,} {model.domain_names[0]} and {len(train_v):,} "
              f"{model.domain_names[1]} images, drawn independently (no pairs), mirrored at random; metrics on the "
              f"test set's {len(test_u):,} and {len(test_v):,}") if not cfg.dry_run else "dry run: bundled sample",
        steps=steps, clock=clock, device=device, bf16=bf16, metrics=metrics, curves=curves.curves,
    )
    folder = save_model(model, CHECKPOINT, card, output_root(cfg.dry_run), storage_dtype=torch.float16)
    print(f"{CHECKPOINT}: {metrics}; wrote {folder}")
    return card

