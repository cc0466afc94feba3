"""Bundled checkpoints: one folder each, `config.json` + `*.safetensors` + `card.json`. Never pickle.

Native modules use `huggingface_hub.PyTorchModelHubMixin`, so each folder also loads with
`Model.from_pretrained(folder)` (or from the Hub). Failures become a `CheckpointError` whose message names
the command that rebuilds the checkpoint, so the app can show it and keep working without the model.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar

from huggingface_hub import PyTorchModelHubMixin

from core import runtime
from core.lazy import lazy_import

torch = lazy_import("torch")  # the page reads cards before torch loads (core/lazy.py)

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_FILE_BYTES = 10 * 1024 * 1024  # a Space needs Git LFS above this
ModelT = TypeVar("ModelT", bound="torch.nn.Module")


class CheckpointError(RuntimeError):
    """A bundled checkpoint is missing or unreadable; the message says how to rebuild it."""


def checkpoint_root() -> Path:
    """`$GENMODELS_CHECKPOINTS` (tests point it elsewhere), else the repo's checkpoints/ folder."""
    return Path(os.environ.get("GENMODELS_CHECKPOINTS", REPO_ROOT / "checkpoints"))


def checkpoint_path(name: str) -> Path:
    return checkpoint_root() / name


def rebuild_command(name: str) -> str:
    return f"python -m core.train {name}"


def load_model(model_class: type[ModelT], name: str, **from_pretrained_kwargs: Any) -> ModelT:
    """Load checkpoints/<name>/ with `from_pretrained`, in eval mode and frozen; raise CheckpointError on any failure."""
    folder = checkpoint_path(name)
    hint = f"Rebuild it with `{rebuild_command(name)}`."
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise CheckpointError(f"The checkpoint '{name}' is missing ({folder} has no config.json/safetensors). {hint}")
    # A tensor the file lacks must not stay at its fresh random value without a word: the Hub mixin's default is
    # strict=False; transformers and diffusers only log a warning, so ask them what they could not fill.
    mixin = issubclass(model_class, PyTorchModelHubMixin)
    from_pretrained_kwargs.setdefault("strict" if mixin else "output_loading_info", True)
    try:
        model = model_class.from_pretrained(str(folder), **from_pretrained_kwargs)
    except Exception as error:  # corrupt safetensors, wrong shapes, bad JSON: all mean "rebuild it"
        raise CheckpointError(
            f"The checkpoint '{name}' could not be loaded ({type(error).__name__}: {error}). {hint}"
        ) from error
    if isinstance(model, tuple):  # (model, loading info) from transformers / diffusers
        model, info = model
        unfilled = sorted(info.get("missing_keys", [])) + sorted(info.get("mismatched_keys", []), key=str)
        if unfilled:
            raise CheckpointError(
                f"The checkpoint '{name}' lacks {len(unfilled)} of the model's tensors (first: {unfilled[0]}). {hint}"
            )
    # bundled models only infer: no autograd bookkeeping, ever; they sit on runtime.device()
    return runtime.place(model.eval().requires_grad_(False))


def read_card(name: str) -> dict[str, Any]:
    """The card.json of checkpoints/<name>/: how it was trained and what it measured."""
    path = checkpoint_path(name) / "card.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise CheckpointError(
            f"The checkpoint '{name}' has no card.json. Rebuild it with `{rebuild_command(name)}`."
        ) from error
    except json.JSONDecodeError as error:
        raise CheckpointError(f"The card of '{name}' is corrupt. Rebuild it with `{rebuild_command(name)}`.") from error


def write_card(name: str, card: dict[str, Any], root: Path | None = None) -> None:
    """Write <root>/<name>/card.json (a recipe's own output; never edited by hand)."""
    ((root or checkpoint_root()) / name / "card.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def save_model(
    model: torch.nn.Module,
    name: str,
    card: dict[str, Any],
    root: Path | None = None,
    storage_dtype: torch.dtype | None = None,
) -> Path:
    """Write <root>/<name>/ with save_pretrained + card.json; refuse files a Space could not host without LFS.

    storage_dtype=torch.float16 halves the file (None: float32); `from_pretrained` copies the values back into float32 parameters.
    """
    folder = (root or checkpoint_root()) / name
    folder.mkdir(parents=True, exist_ok=True)
    model.to(storage_dtype or torch.float32).save_pretrained(str(folder))
    model.float()
    (folder / "README.md").unlink(missing_ok=True)  # the mixin's generic model card; card.json is ours
    write_card(name, card, folder.parent)
    too_big = [p.name for p in folder.iterdir() if p.stat().st_size > MAX_FILE_BYTES]
    if too_big:
        raise CheckpointError(f"{folder}: {too_big} exceed 10 MB; shrink the model.")
    return folder


def code_commit() -> str:
    """The git commit the training ran on (with '+dirty' when the tree had local changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "core"], cwd=REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment_facts(device: torch.device) -> dict[str, str]:
    return {
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
