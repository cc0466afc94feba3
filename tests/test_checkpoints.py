from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.autoencoder import LinearAutoencoder
from core.checkpoints import CheckpointError, checkpoint_root, load_model, read_card, save_model
from core.train.registry import RECIPES

pytestmark = pytest.mark.fast

REQUIRED_CARD_FIELDS = {
    "recipe",
    "command",
    "code_commit",
    "data",
    "seed",
    "steps",
    "wall_seconds",
    "environment",
    "metrics",
}


def test_save_then_load_round_trips_weights(empty_checkpoints):
    model = LinearAutoencoder()
    save_model(model, "ae_linear", {"recipe": "ae_linear"}, empty_checkpoints)
    files = {p.name for p in (empty_checkpoints / "ae_linear").iterdir()}
    assert files == {"config.json", "model.safetensors", "card.json"}
    loaded = load_model(LinearAutoencoder, "ae_linear")
    assert torch.equal(loaded.encoder.weight, model.encoder.weight) and not loaded.training


def test_missing_checkpoint_names_the_rebuild_command(empty_checkpoints):
    with pytest.raises(CheckpointError, match=r"python -m core\.train ae_linear"):
        load_model(LinearAutoencoder, "ae_linear")


def test_corrupt_checkpoint_names_the_rebuild_command(empty_checkpoints):
    save_model(LinearAutoencoder(), "ae_linear", {}, empty_checkpoints)
    (empty_checkpoints / "ae_linear" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match=r"could not be loaded.*python -m core\.train ae_linear"):
        load_model(LinearAutoencoder, "ae_linear")


def test_checkpoint_missing_a_tensor_is_an_error_not_random_weights(empty_checkpoints):
    # A file from an older version of a model (here: one tensor short) must not load with that tensor left at its
    # fresh random initial value.
    from safetensors.torch import load_file, save_file

    save_model(LinearAutoencoder(), "ae_linear", {}, empty_checkpoints)
    weights_file = empty_checkpoints / "ae_linear" / "model.safetensors"
    tensors = load_file(weights_file)
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, weights_file)
    with pytest.raises(CheckpointError, match=r"Missing key.*python -m core\.train ae_linear"):
        load_model(LinearAutoencoder, "ae_linear")


def test_transformers_checkpoint_missing_a_tensor_is_an_error(empty_checkpoints):
    # transformers would fill the gap with random values and only log a warning
    from safetensors.torch import load_file, save_file
    from transformers import CLIPModel

    from core.clip import CLIPSize, clip_config

    tiny = CLIPModel(clip_config(vocab_size=20, size=CLIPSize(hidden=16, layers=1, heads=2, mlp=32, projection=8)))
    save_model(tiny, "clip", {}, empty_checkpoints)
    assert load_model(CLIPModel, "clip").config.projection_dim == 8  # complete: loads
    weights_file = empty_checkpoints / "clip" / "model.safetensors"
    tensors = load_file(weights_file)
    tensors.pop("visual_projection.weight")
    save_file(tensors, weights_file, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"lacks 1 of the model's tensors.*visual_projection.*core\.train clip"):
        load_model(CLIPModel, "clip")


def test_corrupt_card_is_a_checkpoint_error(empty_checkpoints):
    (empty_checkpoints / "x").mkdir()
    (empty_checkpoints / "x" / "card.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_card("x")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_has_a_bundled_checkpoint_with_a_full_card(name):
    folder = checkpoint_root() / name
    assert (folder / "config.json").is_file() and list(folder.glob("*.safetensors")), f"{name} is not bundled"
    card = json.loads((folder / "card.json").read_text())
    assert set(card) >= REQUIRED_CARD_FIELDS, REQUIRED_CARD_FIELDS - set(card)
    assert card["recipe"] == name and card["command"].startswith(f"python -m core.train {name}")
    assert "dry run" not in card["data"] and card["metrics"]
    assert "+dirty" not in card["code_commit"] and card["code_commit"] != "unknown"


def test_bundled_checkpoints_stay_small():
    total = sum(p.stat().st_size for p in Path(checkpoint_root()).rglob("*") if p.is_file())
    assert total < 150 * 1024 * 1024
