"""Recipe `classifier`: the evaluation classifier behind Frechet distances and class-consistency scores.

    python -m core.train classifier
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core import runtime
from core.checkpoints import save_model
from core.datasets import FASHION_CLASSES
from core.metrics import ClassifierConfig, EvalClassifier, accuracy, classifier_outputs, frechet_distance
from core.train.augment import random_flip_and_shift
from core.train.common import Stopwatch, make_card, minibatches, output_root, progress, start_recipe, fashion_mnist

RECIPE = "classifier"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15  # enough for > 92% test accuracy with this net
    batch_size: int = 128
    lr: float = 3e-3  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = 5e-4
    seed: int = 0
    bf16: str = "auto"  # bf16 autocast: 'on', 'off' or 'auto' (measured on this CPU)
    dry_run: bool = False  # two steps on the bundled sample; writes to a temporary folder


def main(cfg: TrainConfig) -> dict:
    generator, device, bf16 = start_recipe(cfg)
    train_x, train_y, test_x, test_y = fashion_mnist(cfg.dry_run)
    model = EvalClassifier(ClassifierConfig()).to(device)
    steps_per_epoch = max(1, len(train_y) // cfg.batch_size)
    max_steps = 2 if cfg.dry_run else None
    total = 2 if cfg.dry_run else cfg.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    clock, step, losses = Stopwatch(), 0, []
    bar = progress(total, RECIPE)
    for _ in range(1 if cfg.dry_run else cfg.epochs):
        model.train()
        for index in minibatches(len(train_y), cfg.batch_size, generator, max_steps):
            x = random_flip_and_shift(train_x[index], generator).to(device)
            y = train_y[index].to(device)
            with runtime.autocast(bf16, device):
                loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()

    model = model.cpu().eval()
    test_features, test_predictions = classifier_outputs(model, test_x)
    train_features, _ = classifier_outputs(model, train_x[:10000])
    noise_features, _ = classifier_outputs(model, torch.rand(len(test_x), 1, 28, 28, generator=generator))
    per_class = {
        name: round(accuracy(test_predictions[test_y == c], test_y[test_y == c]), 4)
        for c, name in enumerate(FASHION_CLASSES) if (test_y == c).any()
    }
    metrics = {
        "test_accuracy": round(accuracy(test_predictions, test_y), 4),
        "test_accuracy_per_class": per_class,
        # Scale for later FD figures: real test vs real train images (floor), uniform noise vs test (ceiling).
        "fd_test_vs_train": round(frechet_distance(test_features, train_features), 3),
        "fd_uniform_noise_vs_test": round(frechet_distance(noise_features, test_features), 3),
    }
    card = make_card(
        RECIPE, cfg, defaults=TrainConfig(), data="Fashion-MNIST train (60,000), evaluated on the full test set (10,000)"
        if not cfg.dry_run else "dry run: 64 bundled-sample images",
        steps=step, clock=clock, device=device, bf16=bf16, metrics=metrics,
        curves={"loss_every_50_steps": [round(v, 4) for v in losses[::50]]},
    )
    folder = save_model(model, RECIPE, card, output_root(cfg.dry_run))
    print(f"{RECIPE}: test accuracy {metrics['test_accuracy']:.4f}; wrote {folder}")
    return card
