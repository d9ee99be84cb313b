"""The models that :func:`~clvmodels.models.persistence.load_model` may build, by class
name. Each model file registers its own classes (:func:`register_model`), so the saving
code never imports a concrete model and no model imports the saving code at import time:
there is no import circle (DESIGN.md layout)."""

from __future__ import annotations

from importlib import import_module

__all__ = ["register_model", "registered_models"]

_MODELS: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: let saved models of ``cls`` be loaded (by its class name)."""
    known = _MODELS.get(cls.__name__)
    if known is not None and known is not cls:
        raise TypeError(f"two model classes are called {cls.__name__!r}; saved models name "
                        "their class, so model class names must be unique.")
    _MODELS[cls.__name__] = cls
    return cls


def registered_models() -> dict[str, type]:
    """The registered model classes, sorted by name (importing :mod:`clvmodels.models` first,
    which imports every model file and so registers every model)."""
    import_module(__package__)
    return dict(sorted(_MODELS.items()))
