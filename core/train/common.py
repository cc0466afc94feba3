"""Helpers every training recipe shares: seeding, minibatches, progress bars, output folders and cards."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from core.checkpoints import REPO_ROOT, checkpoint_root, code_commit, environment_facts
from core.datasets import load_training_data


def fashion_mnist(dry_run: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """train_x, train_y, test_x, test_y: the full Fashion-MNIST splits, or 64 bundled images each in a dry run."""
    train_x, train_y = load_training_data("train", tiny=dry_run).tensors()
    test_x, test_y = load_training_data("test", tiny=dry_run).tensors()
    return train_x, train_y, test_x, test_y


def endless_minibatches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches over n items, reshuffled after each pass, forever (a pass drops its last incomplete
    batch when there is more than one)."""
    batch_size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=generator)
        for step in range(max(1, n // batch_size)):
            yield order[step * batch_size : (step + 1) * batch_size]


class IntervalMeans:
    """A card's training curves: the mean of each named value over every `every` steps (the last may be shorter)."""

    def __init__(self, names: tuple[str, ...], every: int = 100):
        self.every = every
        self.curves: dict[str, list[float]] = {f"{name}_per_{every}_steps": [] for name in names}
        self._sums = [0.0] * len(names)
        self._count = 0

    def add(self, *values: float, last: bool = False) -> None:
        self._sums = [s + v for s, v in zip(self._sums, values)]
        self._count += 1
        if self._count == self.every or last:
            for curve, total in zip(self.curves.values(), self._sums):
                curve.append(round(total / self._count, 4))
            self._sums, self._count = [0.0] * len(self._sums), 0


@torch.no_grad()
def ema_update(average: torch.nn.Module, current: torch.nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * current, parameter by parameter (buffers are copied)."""
    for a, c in zip(average.parameters(), current.parameters()):
        a.lerp_(c, 1.0 - decay)
    for a, c in zip(average.buffers(), current.buffers()):
        a.copy_(c)


def progress(total: int, description: str) -> tqdm:
    return tqdm(total=total, desc=description, unit="step", dynamic_ncols=True, mininterval=1.0, file=sys.stderr)


def output_root(dry_run: bool) -> Path:
    """Where a recipe writes: checkpoints/ for real runs; a throwaway folder for dry runs."""
    return Path(tempfile.mkdtemp(prefix="dry-run-")) if dry_run else checkpoint_root()


def flat_fields(config: Any, prefix: str = "") -> dict[str, Any]:
    """A config's fields by flag name, nested configs' fields under "<field>.<name>" (the model's settings)."""
    flat: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            flat |= flat_fields(value, f"{prefix}{field.name}.")
        else:
            flat[prefix + field.name] = value
    return flat


def command_line(recipe: str, config: Any, defaults: Any) -> str:
    """The exact command that reproduces this run: the recipe plus every field that differs from its defaults."""
    parts = ["python -m core.train", recipe]
    default_values = flat_fields(defaults)
    for name, value in flat_fields(config).items():
        if name in default_values and value == default_values[name]:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, tuple):
            parts.append(flag + " " + " ".join(map(str, value)))
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


class Stopwatch:
    """Wall time of a run (plus `earlier` seconds of the sessions it resumes), and the code commit it started from
    (edits made while it trains do not count)."""

    def __init__(self, earlier: float = 0.0) -> None:
        self.earlier = earlier  # seconds of the sessions before this one
        self.start = time.perf_counter() - earlier
        self.commit = code_commit()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 1)


# ---- training that spans sessions: a saved state to resume from ----------------------------------------------------

RESUME_IGNORES = (
    "steps",
    "stop_after_minutes",
    "save_every",
    "resume",
    "eval_samples",
    "eval_per_class",
    "init_from",
)  # may change between sessions


def training_state_path(recipe: str) -> Path:
    """runs/<recipe>/state.safetensors: the latest training state (weights, optimizer, RNG, curves), not shipped."""
    return REPO_ROOT / "runs" / recipe / "state.safetensors"


def _to_skeleton(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """A nested state (dicts with any keys, lists, tuples, numbers, strings, tensors) as JSON, its tensors moved
    into `tensors` under their position's index (safetensors holds the tensors, the JSON the rest: no pickle)."""
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().cpu().clone().contiguous()
        return {"tensor": key}
    if isinstance(value, dict):
        return {"dict": [[_to_skeleton(k, tensors), _to_skeleton(v, tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"tuple" if isinstance(value, tuple) else "list": [_to_skeleton(v, tensors) for v in value]}
    return {"value": value}


def _from_skeleton(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    kind, content = next(iter(node.items()))
    if kind == "tensor":
        return tensors[content]
    if kind == "dict":
        return {_from_skeleton(k, tensors): _from_skeleton(v, tensors) for k, v in content}
    if kind in ("list", "tuple"):
        items = [_from_skeleton(v, tensors) for v in content]
        return tuple(items) if kind == "tuple" else items
    return content


@dataclass
class TrainingState:
    """What a run saves to go on where it stopped: its settings, weights (EMA copies included), optimizer moments,
    random numbers and curves (the data order restarts with a fresh shuffle)."""

    config: Any
    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    generator: torch.Generator
    curves: IntervalMeans

    def save(self, path: Path, *, step: int, seconds: float, extra: dict[str, Any] | None = None) -> None:
        """As safetensors with a JSON skeleton (no pickle); written to a temporary file, then renamed, so that a run
        killed mid-write leaves the previous state intact."""
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        curves = self.curves
        state = {
            "step": step,
            "config": dataclasses.asdict(self.config),
            "seconds": seconds,
            "modules": {name: m.state_dict() for name, m in self.modules.items()},
            "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()},
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "curves": {"curves": curves.curves, "sums": curves._sums, "count": curves._count},
            "extra": extra or {},
        }
        tensors: dict[str, torch.Tensor] = {}
        skeleton = json.dumps(_to_skeleton(state, tensors))
        partial = path.with_suffix(".partial")
        save_file(tensors, str(partial), metadata={"skeleton": skeleton})
        partial.replace(path)

    def load(self, path: Path) -> dict[str, Any] | None:
        """Restore a saved state into these objects; returns {"step", "seconds", "extra"}, or None without a state.
        Refuses (ValueError) a state saved with different settings, other than those in RESUME_IGNORES."""
        from safetensors import safe_open

        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as file:
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118 (safe_open is not iterable)
            state = _from_skeleton(json.loads(file.metadata()["skeleton"]), tensors)
        config = self.config
        now, defaults, then = dataclasses.asdict(config), dataclasses.asdict(type(config)()), state["config"]
        changed = [  # a field added since the state was saved: compared with its default
            f"{k}: {then.get(k, defaults[k])!r} then, {v!r} now"
            for k, v in now.items()
            if k not in RESUME_IGNORES and then.get(k, defaults[k]) != v
        ]
        if changed:
            raise ValueError(
                f"{path} was saved with other settings ({'; '.join(changed)}). Start over with "
                "--no-resume, or resume with the same settings."
            )
        for name, module in self.modules.items():
            module.load_state_dict(state["modules"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        saved = state["curves"]
        self.curves.curves, self.curves._sums, self.curves._count = saved["curves"], saved["sums"], saved["count"]
        return {"step": state["step"], "seconds": state["seconds"], "extra": state["extra"]}


def out_of_time(clock: Stopwatch, session_start: float, stop_after_minutes: float) -> bool:
    """True once this session has trained stop_after_minutes (0: no limit)."""
    return stop_after_minutes > 0 and clock.seconds - session_start >= 60 * stop_after_minutes


def make_card(
    recipe: str,
    config: Any,
    *,
    defaults: Any,
    data: str,
    steps: int,
    clock: Stopwatch,
    device: torch.device,
    bf16: bool,
    metrics: dict[str, Any],
    curves: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """card.json: how the checkpoint was made and what it measured; written by the recipe, never by hand."""
    return {
        "recipe": recipe,
        "command": command_line(recipe, config, defaults),
        "code_commit": clock.commit,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data,
        "seed": getattr(config, "seed", None),
        "steps": steps,
        "wall_seconds": clock.seconds,
        "bf16_autocast": bf16,
        "environment": environment_facts(device),
        "config": dataclasses.asdict(config),
        "metrics": metrics,
        "curves": curves or {},
    }
