"""The recipe skeleton (core/train/loop.py) and every recipe's dry run (two steps on the bundled sample)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from huggingface_hub import PyTorchModelHubMixin

from core.checkpoints import REPO_ROOT, checkpoint_root, load_model
from core.train import loop
from core.train.__main__ import parse, with_overrides
from core.train.loop import Recipe, Run, TrainConfig, learning_rate_factor
from core.train.registry import RECIPES


def snapshot(folder):
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_dry_run_writes_a_loadable_checkpoint_elsewhere(name, capsys, monkeypatch):
    before = snapshot(checkpoint_root())
    entry = RECIPES[name]
    card = entry.main(dataclasses.replace(entry.config, dry_run=True))
    assert snapshot(checkpoint_root()) == before
    assert card["recipe"] == name and "dry run" in card["data"]
    assert card["steps"] == (0 if name == "pca" else 2)  # PCA is fitted in closed form
    written = capsys.readouterr().out.rsplit("wrote ", 1)[1].strip()
    assert written != str(checkpoint_root() / name) and os.path.isfile(os.path.join(written, "card.json"))
    assert json.loads(Path(written, "card.json").read_text())["command"].endswith("--dry-run")
    monkeypatch.setenv("GENMODELS_CHECKPOINTS", os.path.dirname(written))
    load_model(entry.model_class, os.path.basename(written))  # as the app loads it: strict, no tensor left out


@pytest.mark.fast
def test_cli_flags_override_only_what_is_typed_and_reach_nested_model_settings():
    names, overrides = parse(["vae_5", "--steps", "3", "--model.latent-dim", "7", "--dry-run"])
    assert names == ["vae_5"] and overrides == {"steps": 3, "model.latent_dim": 7, "dry_run": True}
    config = with_overrides(RECIPES["vae_5"].config, overrides)
    assert (config.steps, config.model.latent_dim, config.model.hidden) == (3, 7, (1024, 512))
    names, overrides = parse(["all", "--dry-run"])
    assert names == list(RECIPES) and overrides == {"dry_run": True}


@pytest.mark.fast
def test_field_help_reaches_the_command_line_help(capsys):
    with pytest.raises(SystemExit):
        parse(["ddpm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--ema-decay EMA_DECAY the shipped weights are this moving average" in text
    assert "--steps STEPS optimizer updates (default: 4000)" in text  # help from the base config, ddpm's default
    assert "--model.blocks-per-level" in text


@pytest.mark.fast
def test_each_default_lives_in_one_place():
    """The model settings nest in the recipe's config: the shipped ddpm's U-Net is core's UNetConfig() as is."""
    shipped = json.loads((checkpoint_root() / "ddpm" / "config.json").read_text())
    default = dataclasses.asdict(RECIPES["ddpm"].config.model)
    assert {k: shipped[k] for k in default} == {k: list(v) if isinstance(v, tuple) else v for k, v in default.items()}


@pytest.mark.fast
def test_the_learning_rate_schedule_warms_up_then_decays_to_its_floor():
    cfg = TrainConfig(steps=110, warmup_steps=10, final_lr_fraction=0.1)
    factors = [learning_rate_factor(step, cfg) for step in range(cfg.steps + 1)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)  # linear warm-up
    assert factors[10] == pytest.approx(1.0) and factors[60] == pytest.approx(0.55)  # cosine: halfway at 0.55
    assert factors[110] == pytest.approx(0.1) and all(a >= b for a, b in itertools.pairwise(factors[10:]))
    constant = TrainConfig(steps=50, final_lr_fraction=1.0)
    assert {learning_rate_factor(step, constant) for step in range(50)} == {1.0}


# ---- the skeleton on a tiny recipe: fit y = W x, full-batch ---------------------------------------------------------


@dataclass(frozen=True)
class LineConfig(TrainConfig):
    steps: int = 6
    batch_size: int = 8
    lr: float = 0.05
    final_lr_fraction: float = 1.0
    precision: str = "no"


class Line(torch.nn.Linear, PyTorchModelHubMixin):
    def __init__(self):
        super().__init__(1, 1)


class LineRecipe(Recipe):
    name = "line"
    data_note = "eight made-up points"

    def setup(self, run: Run) -> None:
        self.x = torch.linspace(-1, 1, 8).view(8, 1)
        self.line = Line()
        self.models = {"line": self.line}
        run.add_optimizer("sgd", torch.optim.SGD(self.line.parameters(), lr=self.cfg.lr))
        self.order = run.minibatches(8, self.cfg.batch_size)

    def train_step(self, run: Run) -> tuple[float, ...]:
        x = self.x[next(self.order)]
        loss = (self.line(x) - 3 * x).square().mean()
        run.update("sgd", loss)
        return (loss.item(),)

    def finish(self, run: Run):
        return self.line, {"weight": self.line.weight.item()}


@pytest.fixture
def line_run(tmp_path, monkeypatch):
    """Trains LineRecipe with its checkpoint and training state under tmp_path; returns a function of the config."""
    monkeypatch.setenv("GENMODELS_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr(loop, "training_state_path", lambda name: tmp_path / "runs" / name / "state.safetensors")
    return lambda **settings: loop.train(LineRecipe(LineConfig(**settings)))


@pytest.mark.fast
def test_a_run_stopped_early_resumes_where_it_stopped(line_run, tmp_path):
    whole = line_run(resume=False)
    assert whole["steps"] == 6
    shutil.rmtree(tmp_path / "runs")  # start the sessions below from nothing
    first = line_run(steps=3)  # a first session of 3 updates: state saved at step 3
    second = line_run(steps=6)  # the next session goes on from step 3
    assert first["steps"] == 3 and second["steps"] == 6
    assert [s["from_step"] for s in second["sessions"]] == [0, 3]  # the card records every session
    assert second["metrics"]["weight"] == pytest.approx(whole["metrics"]["weight"], abs=1e-6)  # as one run


@pytest.mark.fast
def test_a_saved_state_with_other_settings_is_refused(line_run):
    line_run(steps=2)
    with pytest.raises(ValueError, match="lr: 0.05 then, 0.1 now"):
        line_run(steps=4, lr=0.1)


@pytest.mark.fast
def test_gradient_accumulation_of_two_half_batches_equals_one_full_batch(line_run):
    full = line_run(resume=False, steps=3)
    accumulated = line_run(resume=False, steps=3, batch_size=4, gradient_accumulation_steps=2)
    assert accumulated["metrics"]["weight"] == pytest.approx(full["metrics"]["weight"], abs=1e-6)
    assert accumulated["steps"] == full["steps"] == 3


@pytest.mark.fast
def test_an_update_leaves_the_other_players_gradients_alone():
    """The lecture's "update D with G fixed": G's loss passes through D, but no gradient lands in D's weights."""
    from accelerate import Accelerator

    g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    g_before, d_before = g.weight.detach().clone(), d.weight.detach().clone()
    run = Run(TrainConfig(precision="no"), Accelerator(cpu=True), torch.Generator())
    run.add_optimizer("g", torch.optim.SGD(g.parameters(), lr=0.1))
    run.update("g", d(g(torch.ones(1, 2))).sum())
    assert d.weight.grad is None and torch.equal(d.weight, d_before)
    assert not torch.equal(g.weight, g_before) and g.weight.grad is None  # G stepped, its gradient cleared


def test_two_processes_train_in_step(tmp_path):
    """Data parallel under `accelerate launch`: two CPU processes, gradients averaged, the weights equal at the end
    (the skeleton checks and raises otherwise); one card, written by the first process."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "core.train",
        "gan",
        "--dry-run",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    written = result.stdout.rsplit("wrote ", 1)[1].strip()
    card = json.loads(Path(written, "card.json").read_text())
    assert card["processes"] == 2 and card["steps"] == 2
    assert result.stdout.count("wrote ") == 1


@pytest.mark.fast
def test_interval_means_average_each_interval_and_the_short_last_one():
    from core.train.common import IntervalMeans

    means = IntervalMeans(("loss", "kl"), every=2)
    for i, value in enumerate([1.0, 3.0, 5.0, 7.0, 10.0]):
        means.add(value, -value, last=i == 4)
    assert means.curves == {"loss_per_2_steps": [2.0, 6.0, 10.0], "kl_per_2_steps": [-2.0, -6.0, -10.0]}


@pytest.mark.fast
def test_a_training_state_round_trips_and_refuses_other_settings(tmp_path):
    from core.train.common import IntervalMeans, TrainingState
    from core.train.diffusion import DDPMTrainConfig

    def objects(seed, cfg):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(seed)
        return TrainingState(cfg, {"model": model}, {"adam": optimizer}, generator, IntervalMeans(("loss",), every=2))

    cfg = DDPMTrainConfig(steps=10)
    saved = objects(0, cfg)
    for _ in range(3):  # Adam moments and a step count to carry over
        saved.optimizers["adam"].zero_grad()
        saved.modules["model"](torch.randn(4, 3, generator=saved.generator)).square().mean().backward()
        saved.optimizers["adam"].step()
        saved.curves.add(0.5)
    path = tmp_path / "state.safetensors"
    saved.save(path, step=3, seconds=12.5, extra={"history": {"steps": 4000}})
    fresh = objects(1, dataclasses.replace(cfg, steps=20))  # more steps: allowed
    assert fresh.load(path) == {"step": 3, "seconds": 12.5, "extra": {"history": {"steps": 4000}}}
    assert torch.equal(fresh.modules["model"].weight, saved.modules["model"].weight)
    moments = [o["adam"].state_dict()["state"][0]["exp_avg"] for o in (fresh.optimizers, saved.optimizers)]
    assert torch.equal(*moments)
    assert torch.equal(fresh.generator.get_state(), saved.generator.get_state())
    assert fresh.curves.curves == saved.curves.curves and fresh.curves._count == saved.curves._count
    with pytest.raises(ValueError, match="lr: 0.0005 then, 0.001 now"):
        objects(1, dataclasses.replace(cfg, lr=1e-3)).load(path)
    assert fresh.load(tmp_path / "none.safetensors") is None
