"""Every recipe's dry run (two steps on the bundled sample) works and writes nothing into checkpoints/."""
from __future__ import annotations

import dataclasses
import json
import os

import pytest

from core.checkpoints import checkpoint_root, load_model
from core.train.__main__ import parse
from core.train.registry import RECIPES


def snapshot(folder):
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_dry_run_writes_a_loadable_checkpoint_elsewhere(name, capsys, monkeypatch):
    before = snapshot(checkpoint_root())
    recipe = RECIPES[name]
    card = recipe.main(dataclasses.replace(recipe.config(), dry_run=True))
    assert snapshot(checkpoint_root()) == before
    assert card["recipe"] == name and card["steps"] >= 1 and "dry run" in card["data"]
    written = capsys.readouterr().out.rsplit("wrote ", 1)[1].strip()
    assert written != str(checkpoint_root() / name) and os.path.isfile(os.path.join(written, "card.json"))
    assert json.load(open(os.path.join(written, "card.json")))["command"].endswith("--dry-run")
    monkeypatch.setenv("GENMODELS_CHECKPOINTS", os.path.dirname(written))
    load_model(recipe.model_class, os.path.basename(written))  # as the app loads it: strict, no tensor left out


@pytest.mark.fast
def test_cli_flags_override_only_what_is_typed():
    names, overrides = parse(["ae_conv", "--epochs", "3", "--dry-run"])
    assert names == ["ae_conv"] and overrides == {"epochs": 3, "dry_run": True}
    names, overrides = parse(["all", "--dry-run"])
    assert names == list(RECIPES) and overrides == {"dry_run": True}


@pytest.mark.fast
def test_interval_means_average_each_interval_and_the_short_last_one():
    from core.train.common import IntervalMeans

    means = IntervalMeans(("loss", "kl"), every=2)
    for i, value in enumerate([1.0, 3.0, 5.0, 7.0, 10.0]):
        means.add(value, -value, last=i == 4)
    assert means.curves == {"loss_per_2_steps": [2.0, 6.0, 10.0], "kl_per_2_steps": [-2.0, -6.0, -10.0]}


@pytest.mark.fast
def test_a_training_state_round_trips_and_refuses_other_settings(tmp_path):
    import torch

    from core.train.common import IntervalMeans, load_training_state, save_training_state
    from core.train.diffusion import TrainConfig

    def objects(seed):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        return model, optimizer, torch.Generator().manual_seed(seed), IntervalMeans(("loss",), every=2)

    model, optimizer, generator, curves = objects(0)
    for _ in range(3):  # Adam moments and a step count to carry over
        optimizer.zero_grad()
        model(torch.randn(4, 3, generator=generator)).square().mean().backward()
        optimizer.step()
        curves.add(0.5)
    cfg = TrainConfig(steps=10)
    path = tmp_path / "state.safetensors"
    save_training_state(path, step=3, config=cfg, modules={"model": model}, optimizers={"adam": optimizer},
                        generator=generator, curves=curves, seconds=12.5, extra={"history": {"steps": 4000}})
    fresh = objects(1)
    resumed = load_training_state(path, config=dataclasses.replace(cfg, steps=20), modules={"model": fresh[0]},
                                  optimizers={"adam": fresh[1]}, generator=fresh[2], curves=fresh[3])
    assert resumed == {"step": 3, "seconds": 12.5, "extra": {"history": {"steps": 4000}}}  # more steps: allowed
    assert torch.equal(fresh[0].weight, model.weight)
    assert torch.equal(fresh[1].state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(fresh[2].get_state(), generator.get_state())
    assert fresh[3].curves == curves.curves and fresh[3]._count == curves._count
    with pytest.raises(ValueError, match="lr: 0.0005 then, 0.001 now"):
        load_training_state(path, config=dataclasses.replace(cfg, lr=1e-3), modules={"model": fresh[0]},
                            optimizers={"adam": fresh[1]}, generator=fresh[2], curves=fresh[3])
    assert load_training_state(tmp_path / "none.safetensors", config=cfg, modules={}, optimizers={},
                               generator=fresh[2], curves=fresh[3]) is None
