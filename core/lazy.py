"""A module imported on its first use, so that `python app.py` can serve its page before torch has loaded.

Importing torch takes 1.4 s of the app's 5-s start on a 2-core machine, and drawing the page needs none of it: the
modules the page is built from bind `torch = lazy_import("torch")` (and the tabs bind the model modules they call the
same way), so torch loads when the first handler or the background warm-up reaches for it. Nothing else changes:
`torch.cat`, `isinstance(x, torch.Tensor)` and `torch.nn.functional` read through to the real module.

Reading an attribute at import time (a base class `torch.nn.Module`, a decorator `@torch.inference_mode()`, an
annotation evaluated without `from __future__ import annotations`) imports the module there; tests/test_startup.py
checks that building the page imports no torch.
"""

from __future__ import annotations

import importlib
import types


class LazyModule:
    """Stands for the module `name` until an attribute is read; then imports it (importlib's per-module lock makes a
    first use from several threads at once safe) and reads the attribute from it, every time, so that a patched or
    reassigned attribute of the real module is seen."""

    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name
        self.__dict__["_module"] = None

    def _load(self) -> types.ModuleType:
        module = self.__dict__["_module"]
        if module is None:
            module = importlib.import_module(self.__dict__["_name"])
            self.__dict__["_module"] = module
        return module

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __setattr__(self, attribute: str, value) -> None:  # a test's monkeypatch reaches the real module
        setattr(self._load(), attribute, value)

    def __delattr__(self, attribute: str) -> None:
        delattr(self._load(), attribute)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def __repr__(self) -> str:
        state = "loaded" if self.__dict__["_module"] is not None else "not yet loaded"
        return f"<lazy module {self.__dict__['_name']!r}, {state}>"


def lazy_import(name: str) -> LazyModule:
    """A stand-in for `import name` that imports it on the first attribute read."""
    return LazyModule(name)
