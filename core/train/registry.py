"""Every training recipe by name; the name is also the checkpoint folder it writes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from core.train import autoencoder, classifier


@dataclass(frozen=True)
class Recipe:
    config: Callable[[], Any]  # the recipe's default TrainConfig
    main: Callable[[Any], dict]  # trains, writes checkpoints/<name>/, returns the card


RECIPES: dict[str, Recipe] = {
    "classifier": Recipe(classifier.TrainConfig, classifier.main),
    "pca": Recipe(autoencoder.PCATrainConfig, autoencoder.main_pca),
    **{f"ae_{kind}": Recipe(lambda d=defaults: d, autoencoder.main) for kind, defaults in autoencoder.DEFAULTS.items()},
}
