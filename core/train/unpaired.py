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

from core.metrics import classifier_if_trained, classifier_outputs, frechet_distance
from core.train.augment import mirror
from core.train.common import fashion_mnist
from core.train.loop import Recipe, Run, TrainConfig, option
from core.unpaired import (
    DualGAN,
    UnpairedConfig,
    cycle_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    to_model,
)


@dataclass(frozen=True)
class UnpairedTrainConfig(TrainConfig):
    model: UnpairedConfig = option(UnpairedConfig(), "the two domains (Fashion-MNIST classes) and network widths")
    steps: int = 5000
    batch_size: int = 32
    lr: float = 2e-4  # Adam, beta1 = 0.5, for all four networks (CycleGAN's settings)
    beta1: float = option(0.5, "Adam's β₁ for all four networks")
    lambda_u: float = option(10.0, "λ_U of the cycle u → G_B(G_A(u)) (CycleGAN's 10)")
    lambda_v: float = option(10.0, "λ_V of the cycle v → G_A(G_B(v))")


@torch.inference_mode()
def evaluate(model: DualGAN, test_u: torch.Tensor, test_v: torch.Tensor) -> dict:
    """Per direction: translation success rate (classified as the target class), the same rate for untranslated
    inputs (the baseline), mean cycle L1, and FD of translations to real test images of the target class."""
    metrics: dict = {}
    classifier = classifier_if_trained()
    for direction, source, target, target_class in (
        ("u->v", test_u, test_v, model.config.domain_v),
        ("v->u", test_v, test_u, model.config.domain_u),
    ):
        translated, cycled = model.cycle(source, direction)
        key = direction.replace("->", "_to_")
        metrics[f"{key}_cycle_l1"] = round((source - cycled).abs().mean().item(), 4)
        if classifier is None:
            continue
        features, predicted = classifier_outputs(classifier, translated)
        _, predicted_source = classifier_outputs(classifier, source)
        target_features, _ = classifier_outputs(classifier, target)
        metrics[f"{key}_success_rate"] = round((predicted == target_class).float().mean().item(), 4)
        metrics[f"{key}_untranslated_read_as_target"] = round(
            (predicted_source == target_class).float().mean().item(), 4
        )
        metrics[f"{key}_fd_to_target_test"] = round(frechet_distance(features, target_features), 3)
    return metrics


class UnpairedRecipe(Recipe):
    curve_names = ("g_adversarial", "cycle", "d_loss")
    storage_dtype = torch.float16  # measured after rounding: `finish` evaluates the weights that ship

    def setup(self, run: Run) -> None:
        cfg = self.cfg
        train_x, train_y, test_x, test_y = fashion_mnist(run.dry_run)
        u, v = cfg.model.domain_u, cfg.model.domain_v
        self.train_u, self.train_v = train_x[train_y == u], train_x[train_y == v]
        self.test_u, self.test_v = test_x[test_y == u], test_x[test_y == v]
        if min(len(self.train_u), len(self.train_v)) == 0:
            raise ValueError("Both domains need training images.")
        self.dual = DualGAN(cfg.model)
        self.models = {"dualgan": self.dual}
        names = self.dual.domain_names
        self.data_note = (
            f"Fashion-MNIST train: {len(self.train_u):,} {names[0]} and {len(self.train_v):,} {names[1]} "
            "images, drawn independently (no pairs), mirrored at random; metrics on the test set's "
            f"{len(self.test_u):,} and {len(self.test_v):,}"
        )
        betas = (cfg.beta1, 0.999)
        run.add_optimizer(
            "g", torch.optim.Adam([*self.dual.g_a.parameters(), *self.dual.g_b.parameters()], lr=cfg.lr, betas=betas)
        )
        run.add_optimizer(
            "d", torch.optim.Adam([*self.dual.d_a.parameters(), *self.dual.d_b.parameters()], lr=cfg.lr, betas=betas)
        )
        self.order_u = run.minibatches(len(self.train_u), cfg.batch_size)
        self.order_v = run.minibatches(len(self.train_v), cfg.batch_size)  # independent: no pairs

    def train_step(self, run: Run) -> tuple[float, ...]:
        model = self.dual
        u = to_model(mirror(self.train_u[next(self.order_u)], generator=run.rng)[0]).to(run.device)  # (B, 1, 32, 32)
        v = to_model(mirror(self.train_v[next(self.order_v)], generator=run.rng)[0]).to(run.device)
        with run.autocast():
            fake_v, fake_u = model.g_a(u), model.g_b(v)  # G_A(u), G_B(v)
            u_cycled, v_cycled = model.g_b(fake_v), model.g_a(fake_u)
            g_adversarial = least_squares_generator_loss(model.d_a(fake_v).float()) + least_squares_generator_loss(
                model.d_b(fake_u).float()
            )
        cycle = cycle_loss(u, u_cycled.float(), v, v_cycled.float(), self.cfg.lambda_u, self.cfg.lambda_v)
        run.update("g", g_adversarial + cycle)
        with run.autocast():  # D_A: real v vs G_A(u); D_B: real u vs G_B(v)
            d_loss = least_squares_discriminator_loss(
                model.d_a(v).float(), model.d_a(fake_v.detach()).float()
            ) + least_squares_discriminator_loss(model.d_b(u).float(), model.d_b(fake_u.detach()).float())
        run.update("d", d_loss)
        return g_adversarial.item(), cycle.item(), d_loss.item()

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict]:
        model = self.dual.cpu().eval().half().float()  # stored as float16: measure the weights that ship
        metrics = {
            "adversarial_loss": "least squares (CycleGAN's form); cycle loss with L1 norms",
            "domains": {"u": model.domain_names[0], "v": model.domain_names[1]},
        }
        return model, metrics | evaluate(model, self.test_u, self.test_v)
