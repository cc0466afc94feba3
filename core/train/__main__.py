"""`python -m core.train <recipe> [--dry-run] [--field value ...]`: writes checkpoints/<recipe>/.

Flags come from the recipe's TrainConfig fields (`--epochs 20`, `--no-dry-run`). `all` runs every recipe in
order, e.g. `python -m core.train all --dry-run` (what CI does).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from core.train.registry import RECIPES


def _add_field(parser: argparse.ArgumentParser, name: str, default) -> None:
    flag = "--" + name.replace("_", "-")
    # SUPPRESS: only flags the user typed override a recipe's own defaults.
    if isinstance(default, bool):
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS)
    elif isinstance(default, tuple):
        parser.add_argument(flag, nargs="+", type=type(default[0]) if default else str, default=argparse.SUPPRESS)
    else:
        parser.add_argument(flag, type=type(default), default=argparse.SUPPRESS, help=f"default: {default!r}")


def parse(argv: list[str]) -> tuple[list[str], dict]:
    parser = argparse.ArgumentParser(prog="python -m core.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", choices=list(RECIPES) + ["all"])
    chosen = parser.parse_known_args(argv)[0].recipe if argv and not argv[0].startswith("-") else None
    names = list(RECIPES) if chosen in (None, "all") else [chosen]
    seen: dict[str, object] = {}
    for name in names:
        for field in dataclasses.fields(RECIPES[name].config()):
            seen.setdefault(field.name, getattr(RECIPES[name].config(), field.name))
    for field_name, default in seen.items():
        _add_field(parser, field_name, default)
    args = vars(parser.parse_args(argv))
    args.pop("recipe")
    return names, args


def run(argv: list[str]) -> None:
    names, overrides = parse(argv)
    for name in names:
        recipe = RECIPES[name]
        base = recipe.config()
        fields = {f.name for f in dataclasses.fields(base)}
        chosen = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if k in fields}
        recipe.main(dataclasses.replace(base, **chosen))


if __name__ == "__main__":
    run(sys.argv[1:])
