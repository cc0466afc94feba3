"""The recipe skeleton: one training loop for every recipe, built on Hugging Face accelerate.

A recipe (a `Recipe` subclass) says what it trains, what one step does and how it measures the result:

- `setup(run)`: load its data, build `self.models` (everything saved and resumed, EMA copies included) and
  `self.optimizers` (name -> optimizer);
- `train_step(run)`: one update of the lecture's objective; each loss goes to `run.update(optimizer_name, loss)`;
  returns the step's values for the training curves, in the order of `curve_names`;
- `finish(run)`: the model to ship (on the CPU) and its measured metrics.

The skeleton owns the rest: device placement, mixed precision (bf16/fp16 autocast), seeding, several processes
(data parallel: each process draws its own minibatches, gradients are averaged before every update), gradient
accumulation, the learning-rate schedule, progress, dry-run sizes, training curves, saving the training state and
resuming from it, and writing the checkpoint with its card.

    python -m core.train <recipe> [--dry-run]                                    # one process
    accelerate launch --cpu --num_processes 2 -m core.train <recipe> --dry-run   # two processes
"""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState, PartialState
from accelerate.utils import set_seed

from core import runtime
from core.checkpoints import save_model
from core.train.common import (
    IntervalMeans,
    Stopwatch,
    TrainingState,
    ema_update,
    endless_minibatches,
    make_card,
    out_of_time,
    output_root,
    progress,
    training_state_path,
)
from core.train.distributed import average_gradients, broadcast_models, models_differ

T = TypeVar("T")
DRY_RUN_STEPS = 2
DRY_RUN_DATA = "dry run: the bundled sample"


def option(default: Any, help: str) -> Any:
    """A config field with its help text (shown by `python -m core.train <recipe> --help`)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    """The fields every recipe's config has; a recipe's config subclasses it, adds its own and changes defaults."""

    steps: int = option(1000, "optimizer updates")
    batch_size: int = option(64, "images per minibatch and process")
    lr: float = option(1e-3, "peak learning rate")
    warmup_steps: int = option(0, "linear warm-up from 0 to lr over these updates")
    final_lr_fraction: float = option(0.1, "cosine decay from lr to lr × this at the last update (1: constant lr)")
    gradient_accumulation_steps: int = option(1, "minibatches whose gradients add up to one update")
    precision: str = option("auto", "autocast: bf16, fp16, no, or auto (bf16 where this CPU or GPU has it)")
    seed: int = option(0, "seeds models, data order and noise (each process adds its index)")
    save_every: int = option(500, "updates between saved training states (runs/<recipe>/state.safetensors)")
    resume: bool = option(True, "go on from runs/<recipe>/state.safetensors when it exists")
    stop_after_minutes: float = option(0.0, "end this session's training after this long (0: all steps)")
    dry_run: bool = option(False, "two updates on the bundled sample; writes to a temporary folder")


def field_help(config_class: type, name: str) -> str:
    """A field's help text: from the class that declares it, else from the first base class that does."""
    for cls in config_class.__mro__:
        declared = getattr(cls, "__dataclass_fields__", {}).get(name)
        if declared is not None and "help" in declared.metadata:
            return declared.metadata["help"]
    return ""


def learning_rate_factor(step: int, cfg: TrainConfig) -> float:
    """The one schedule: linear warm-up over warmup_steps, then cosine decay from 1 to final_lr_fraction."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress_ = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.final_lr_fraction + (1 - cfg.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress_))


def mixed_precision(choice: str, device: torch.device) -> str:
    """accelerate's mixed_precision value for a config's `precision`."""
    if choice not in ("auto", "bf16", "fp16", "no"):
        raise ValueError(f"precision must be auto, bf16, fp16 or no, not {choice!r}.")
    if choice == "auto":
        return "bf16" if runtime.use_bf16("auto", device) else "no"
    if choice == "fp16" and device.type == "cpu":  # accelerate would set up neither autocast nor a loss scaler
        raise ValueError("precision fp16 needs a GPU; on the CPU use bf16 or no.")
    return choice


class Run:
    """What a recipe's steps see of the skeleton: the device, the seeded random numbers, autocast, updates."""

    def __init__(self, cfg: TrainConfig, accelerator: Accelerator, rng: torch.Generator) -> None:
        self.cfg, self.accelerator, self.rng = cfg, accelerator, rng  # rng: data order and noise (not G)
        self.device = accelerator.device
        self.step = 0  # updates done so far
        self.training_seconds = 0.0  # this run's training time, all sessions (set when training ends)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self._base_lrs: dict[str, list[float]] = {}

    @property
    def process_seed(self) -> int:
        """The seed of this process's random numbers (data order, noise, captions): cfg.seed + its index."""
        return self.cfg.seed + self.accelerator.process_index

    @property
    def dry_run(self) -> bool:
        return self.cfg.dry_run

    @property
    def bf16(self) -> bool:
        return self.accelerator.mixed_precision == "bf16"

    @property
    def steps(self) -> int:
        return DRY_RUN_STEPS if self.cfg.dry_run else self.cfg.steps

    def sized(self, full: T, dry: T) -> T:
        """A size (samples to evaluate, a sampler table) that is `dry` in a dry run and `full` otherwise."""
        return dry if self.cfg.dry_run else full

    def minibatches(self, n: int, batch_size: int) -> Iterator[torch.Tensor]:
        """Shuffled index batches over n items, reshuffled after each pass, drawn with this process's rng."""
        return endless_minibatches(n, batch_size, self.rng)

    def autocast(self):
        return self.accelerator.autocast()

    def add_optimizer(self, name: str, optimizer: torch.optim.Optimizer) -> None:
        self._base_lrs[name] = [group["lr"] for group in optimizer.param_groups]  # the schedule scales each group
        self.optimizers[name] = self.accelerator.prepare_optimizer(optimizer)

    def update(self, name: str, loss: torch.Tensor) -> None:
        """Gradients of `loss` for optimizer `name`'s parameters only (the lecture's "update D with G fixed": no
        gradient reaches the other player); at the end of an accumulation window, averaged over the processes and
        applied at the scheduled learning rate."""
        optimizer = self.optimizers[name]
        params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        self.accelerator.backward(loss, inputs=params)
        if not self.accelerator.sync_gradients:
            return
        if self.accelerator.num_processes > 1:
            average_gradients(params, self.accelerator.num_processes)
        factor = learning_rate_factor(self.step, self.cfg)
        for group, base in zip(optimizer.param_groups, self._base_lrs[name]):
            group["lr"] = base * factor
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


class Recipe:
    """A training recipe; see the module docstring. Subclasses set `name`, `data_note` and `curve_names`."""

    name: ClassVar[str] = ""  # the checkpoint folder it writes (variants override `checkpoint_name`)
    data_note: ClassVar[str] = ""  # the card's "data" line for a real run
    curve_names: ClassVar[tuple[str, ...]] = ("loss",)
    curve_every: ClassVar[int] = 100  # updates per point of the training curves
    storage_dtype: ClassVar[torch.dtype] = torch.float32

    def __init__(self, cfg: TrainConfig, defaults: TrainConfig | None = None, name: str = "") -> None:
        self.cfg, self.registered_name = cfg, name
        self.defaults = defaults if defaults is not None else type(cfg)()
        self.models: dict[str, torch.nn.Module] = {}
        self.extra: dict[str, Any] = {}  # saved with the training state (e.g. what a run continued from)
        self.held_out_every = 0  # updates between held-out measurements (0: none)
        # (average, current, decay): after every update, average <- decay · average + (1 − decay) · current
        self.moving_averages: list[tuple[torch.nn.Module, torch.nn.Module, float]] = []

    @property
    def checkpoint_name(self) -> str:
        """The folder it writes: the name it was started under (recipes whose config decides override this)."""
        return self.registered_name or self.name

    def setup(self, run: Run) -> None:
        raise NotImplementedError

    def train_step(self, run: Run) -> tuple[float, ...]:
        raise NotImplementedError

    def held_out(self, run: Run) -> dict[str, float]:
        """Measurements on held-out data for the card's curves, every `held_out_every` updates."""
        return {}

    def finish(self, run: Run) -> tuple[torch.nn.Module, dict[str, Any]]:
        raise NotImplementedError

    def evaluate_shipped(self) -> dict[str, Any]:
        """`--evaluate-only`: re-measure the bundled checkpoint into its card, without training."""
        raise ValueError(f"{self.checkpoint_name} has no --evaluate-only.")

    def after_save(self, folder: Path) -> None:
        """Anything written beside the weights (a tokenizer, the latent map's codes)."""

    def postfix(self, values: tuple[float, ...]) -> dict[str, str]:
        return {name: f"{value:.4g}" for name, value in zip(self.curve_names, values)}


def invocation() -> str:
    """This process's command as typed (the card records every session's)."""
    return "python -m core.train " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def make_accelerator(cfg: TrainConfig) -> Accelerator:
    """An Accelerator for this run's precision and accumulation. accelerate keeps one such setting per process;
    `all` and the tests train several recipes with different settings in one process, so each run starts them afresh
    (the process group, if any, stays)."""
    chosen_device = runtime.device()
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    return Accelerator(
        cpu=chosen_device.type == "cpu",
        mixed_precision=mixed_precision(cfg.precision, chosen_device),
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
    )


def train(recipe: Recipe) -> dict[str, Any]:
    """Train `recipe` (resuming from its saved state where there is one), then measure it and write its checkpoint
    with a card. Returns the card (the first process's; only the first process writes)."""
    cfg = recipe.cfg
    if getattr(cfg, "evaluate_only", False):
        return recipe.evaluate_shipped() if PartialState().is_main_process else {}
    accelerator = make_accelerator(cfg)
    set_seed(cfg.seed)  # the same initial weights on every process
    run = Run(cfg, accelerator, torch.Generator())
    recipe.setup(run)
    for module in recipe.models.values():
        module.to(accelerator.device)
    if accelerator.num_processes > 1:
        broadcast_models(recipe.models)
    set_seed(cfg.seed, device_specific=True)  # each process its own minibatches, noise and dropout
    run.rng.manual_seed(run.process_seed)

    curves = IntervalMeans(recipe.curve_names, every=recipe.curve_every)
    state = TrainingState(cfg, recipe.models, run.optimizers, run.rng, curves)
    clock = resume(recipe, run, state)
    train_steps(recipe, run, state, clock)
    accelerator.wait_for_everyone()
    if accelerator.num_processes > 1 and (differ := models_differ(recipe.models)):
        raise RuntimeError(f"The processes' weights drifted apart: {', '.join(differ[:5])}.")
    card = write_checkpoint(recipe, run, clock, curves) if accelerator.is_main_process else {}
    accelerator.wait_for_everyone()
    return card


def state_file(recipe: Recipe) -> Path:
    return (
        output_root(True) / "state.safetensors" if recipe.cfg.dry_run else training_state_path(recipe.checkpoint_name)
    )


def resume(recipe: Recipe, run: Run, state: TrainingState) -> Stopwatch:
    """Load the saved training state where there is one (same settings), note this session in recipe.extra, and
    return the clock (counting the earlier sessions' time)."""
    cfg, accelerator, path = recipe.cfg, run.accelerator, state_file(recipe)
    resumed = state.load(path) if cfg.resume and run.optimizers else None
    recipe.extra.setdefault("sessions", [])
    recipe.extra.setdefault("held_out_curves", {})
    earlier = 0.0
    if resumed:
        run.step, earlier = resumed["step"], resumed["seconds"]
        recipe.extra |= resumed["extra"]
        run.rng.manual_seed(run.process_seed + 1000 * run.step)  # a fresh data order
        if accelerator.num_processes > 1:  # the state holds the first process's random numbers: each its own again
            set_seed(cfg.seed + 1000 * run.step, device_specific=True)
        accelerator.print(f"{recipe.checkpoint_name}: resuming at step {run.step} of {run.steps} from {path}")
        if run.step >= run.steps:
            accelerator.print(
                f"{recipe.checkpoint_name}: that state has finished its {run.steps} steps, so nothing is trained; it is "
                "measured and written again. To train afresh: --no-resume (or more --steps to go on)."
            )
    recipe.extra["sessions"].append(
        {"command": invocation(), "processes": accelerator.num_processes, "from_step": run.step}
    )
    return Stopwatch(earlier)


def train_steps(recipe: Recipe, run: Run, state: TrainingState, clock: Stopwatch) -> None:
    """The loop: updates (each of gradient_accumulation_steps minibatches), moving averages, curves, held-out
    measurements and saved states, until the last step or the session's time is up."""
    cfg, accelerator = recipe.cfg, run.accelerator
    main_process = accelerator.is_main_process
    held_out_curves = recipe.extra["held_out_curves"]

    def save() -> None:
        if main_process and run.optimizers:
            state.save(state_file(recipe), step=run.step, seconds=clock.seconds, extra=recipe.extra)

    bar = progress(run.steps, recipe.checkpoint_name) if main_process else None
    if bar is not None:
        bar.update(run.step)
    for module in recipe.models.values():
        module.train()
    while run.optimizers and run.step < run.steps:
        if out_of_time(clock, clock.earlier, cfg.stop_after_minutes):
            accelerator.set_trigger()
        if accelerator.check_trigger():  # all processes stop together (one alone would leave the others waiting)
            break
        micro = []
        for _ in range(cfg.gradient_accumulation_steps):
            with accelerator.accumulate():
                micro.append(recipe.train_step(run))
        for average, current, decay in recipe.moving_averages:  # once per update, after it
            ema_update(average, current, decay)
        values = tuple(sum(column) / len(micro) for column in zip(*micro))
        run.step += 1
        last = run.step == run.steps
        curves = state.curves
        curves.add(*values, last=last)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(recipe.postfix(values), refresh=False)
        if main_process and recipe.held_out_every and (run.step % recipe.held_out_every == 0 or last):
            for key, value in recipe.held_out(run).items():
                held_out_curves.setdefault(key, []).append(value)
            for module in recipe.models.values():
                module.train()
        if cfg.save_every and run.step % cfg.save_every == 0 and not last:
            save()
    if bar is not None:
        bar.close()
    save()
    run.training_seconds = clock.seconds


def write_checkpoint(recipe: Recipe, run: Run, clock: Stopwatch, curves: IntervalMeans) -> dict[str, Any]:
    """Measure the trained model (recipe.finish) and write it with its card; returns the card."""
    cfg, accelerator = recipe.cfg, run.accelerator
    model, metrics = recipe.finish(run)
    metrics = {
        "training_seconds": run.training_seconds,
        "seconds_per_training_step": round(run.training_seconds / max(1, run.step), 3),
        "trained_steps": run.step,
        **metrics,
    }
    card = make_card(
        recipe.checkpoint_name,
        cfg,
        defaults=recipe.defaults,
        data=DRY_RUN_DATA if cfg.dry_run else recipe.data_note,
        steps=run.step,
        clock=clock,
        device=accelerator.device,
        bf16=run.bf16,
        metrics=metrics,
        curves={**curves.curves, **recipe.extra["held_out_curves"]},
    )
    card["mixed_precision"] = accelerator.mixed_precision
    card["processes"] = accelerator.num_processes
    card["sessions"] = recipe.extra["sessions"]
    folder = save_model(model, recipe.checkpoint_name, card, output_root(cfg.dry_run), recipe.storage_dtype)
    recipe.after_save(folder)
    print(f"{recipe.checkpoint_name}: {metrics}; wrote {folder}")
    return card
