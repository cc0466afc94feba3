"""`python -m core.train <recipe> [--dry-run] [--field value ...]`: writes checkpoints/<recipe>/.

Flags come from the recipe's config fields (`--steps 20000`, `--no-resume`); the model's settings nest under
`--model.<field>` (`--model.latent-dim 5`). `all` runs every recipe in order (`python -m core.train all --dry-run`).
Several processes: `accelerate launch --cpu --num_processes 2 -m core.train <recipe>` (or on GPUs, without --cpu).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from core.train.common import flat_fields
from core.train.distributed import requested_cpu_processes, start_processes
from core.train.loop import field_help
from core.train.registry import RECIPES


def _help(config: Any, name: str) -> str:
    """The help of a flag "a.b.c": the field's help in the (nested) config class that declares it."""
    *outer, last = name.split(".")
    for part in outer:
        config = getattr(config, part)
    return field_help(type(config), last)


def _add_field(parser: argparse.ArgumentParser, name: str, default: Any, help_text: str) -> None:
    flag = "--" + name.replace("_", "-")
    text = f"{help_text} (default: {default!r})" if help_text else f"default: {default!r}"
    # SUPPRESS: only flags the user typed override a recipe's own defaults.
    if isinstance(default, bool):
        parser.add_argument(
            flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=text, dest=name
        )
    elif isinstance(default, tuple):
        parser.add_argument(
            flag, nargs="+", type=type(default[0]) if default else str, default=argparse.SUPPRESS, help=text, dest=name
        )
    else:
        parser.add_argument(flag, type=type(default), default=argparse.SUPPRESS, help=text, dest=name)


def parse(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    parser = argparse.ArgumentParser(
        prog="python -m core.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recipe", choices=[*RECIPES, "all"])
    first = argparse.ArgumentParser(add_help=False)  # which recipe, before its flags (and its --help) exist
    first.add_argument("recipe", nargs="?")
    chosen = first.parse_known_args(argv)[0].recipe
    names = [chosen] if chosen in RECIPES else list(RECIPES)
    seen: dict[str, Any] = {}
    for name in names:
        config = RECIPES[name].config
        for field_name, default in flat_fields(config).items():
            if field_name not in seen:
                seen[field_name] = default
                _add_field(parser, field_name, default, _help(config, field_name))
    args = vars(parser.parse_args(argv))
    args.pop("recipe")
    return names, {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


def with_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """config with the overrides that name its fields ("model.latent_dim" reaches into config.model)."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            prefix = field.name + "."
            nested = {k[len(prefix) :]: v for k, v in overrides.items() if k.startswith(prefix)}
            if nested:
                changes[field.name] = with_overrides(value, nested)
        elif field.name in overrides:
            changes[field.name] = overrides[field.name]
    return dataclasses.replace(config, **changes)


def run(argv: list[str]) -> None:
    names, overrides = parse(argv)
    for name in names:
        entry = RECIPES[name]
        entry.main(with_overrides(entry.config, overrides))


if __name__ == "__main__":
    if processes := requested_cpu_processes():
        start_processes(processes, sys.argv[1:])
    else:
        run(sys.argv[1:])
