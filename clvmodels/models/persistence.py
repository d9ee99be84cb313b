"""Saving and loading fitted models as data, not code (DESIGN.md principle 6).

A saved model is a directory::

    model.json   format, format version, clvmodels version, model type, the
                 ``__init__`` settings and the fitted state (the public attributes
                 ending in ``_``: JSON values, numpy arrays, Series of numbers,
                 registered objects such as priors), as standard JSON
    draws.nc     the parameter draws ``draws_`` (dims chain x draw), netCDF-4
    idata.nc     the ArviZ ``DataTree`` ``idata_``, only when the model has one

Nothing in the files names code to import: the model class is looked up by name in
:func:`model_classes` (the registry the model files add themselves to), and
objects held in settings or fitted state (priors) are rebuilt only through loaders registered with :func:`register_class`. Writes are
atomic: everything goes into a temporary sibling directory that is renamed into
place once complete, so a failure midway leaves any previous save as it was and no
temporary directory behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from inspect import Parameter, signature
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import (
    FitError,
    IncompatibleModelError,
    NotFittedError,
    check_parameter,
    format_examples,
)
from ..io import old_sibling, remove_stale_siblings, temporary_dir, uninterrupted
from .registry import registered_models

__all__ = ["save_model", "load_model", "model_classes", "register_class"]

FORMAT = "clvmodels-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
DRAWS_FILE = "draws.nc"
IDATA_FILE = "idata.nc"
_NETCDF_ENGINE = "h5netcdf"
_NETCDF_ATTRS = ("draws_", "idata_")  # fitted attributes stored as netCDF, not JSON
_OWN_FILES = frozenset({MODEL_FILE, DRAWS_FILE, IDATA_FILE})
# numpy dtype kinds that JSON holds exactly: bool, signed and unsigned int, float
_ARRAY_KINDS = "biuf"
# JSON has no NaN or infinity; non-finite floats are written as these strings
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

_TAG = "__type__"  # marks JSON dicts that encode a non-JSON value
#: loaders of registered classes by "module.QualName" (see :func:`register_class`)
_REGISTERED: dict[str, Callable[[dict], object]] = {}


def model_classes() -> dict[str, type]:
    """The models ``load_model`` builds, by class name (the only classes it builds): the
    classes registered by the model files (:mod:`~clvmodels.models.registry`).

    >>> names = model_classes()
    >>> {"BetaGeoModel", "ParetoNBDModel", "GammaGammaModel", "ShiftedBetaGeoModel"} <= set(names)
    True
    >>> "BetaGeoHomogeneousDropoutModel" in names  # the limits a fit may become, too
    True
    """
    return registered_models()


def _loaders() -> dict[str, Callable[[dict], object]]:
    """Registered loaders, clvmodels' own priors included."""
    from ..priors import Prior, prior_from_dict

    return {_class_key(Prior): prior_from_dict, **_REGISTERED}


def register_class(cls: type, from_dict: Callable[[dict], object] | None = None) -> type:
    """Let settings and fitted attributes holding ``cls`` objects be saved and loaded.

    Such an object is saved as ``obj.to_dict()`` and rebuilt by ``from_dict`` (default:
    the classmethod ``cls.from_dict``); subclasses of ``cls`` are covered too, so
    ``from_dict`` must rebuild them. ``load_model`` rebuilds objects of registered
    classes only. Usable as a class decorator; returns ``cls``.

    >>> from dataclasses import asdict, dataclass
    >>> @register_class
    ... @dataclass
    ... class Cap:
    ...     value: float
    ...     def to_dict(self):
    ...         return asdict(self)
    ...     @classmethod
    ...     def from_dict(cls, d):
    ...         return cls(**d)
    >>> _from_json(_to_json(Cap(2.5), "cap"))
    Cap(value=2.5)
    >>> del _REGISTERED[_class_key(Cap)]  # leave the registry as it was
    """
    loader = from_dict if from_dict is not None else getattr(cls, "from_dict", None)
    if not isinstance(cls, type) or not callable(loader) or not callable(
        getattr(cls, "to_dict", None)
    ):
        raise TypeError(
            f"register_class needs a class with a to_dict() method and a from_dict "
            f"classmethod (or a from_dict function passed in); got {cls!r}."
        )
    _REGISTERED[_class_key(cls)] = loader
    return cls


def _version() -> str:
    import clvmodels  # on call: this module is imported while clvmodels initialises

    return clvmodels.__version__


def _class_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------- saving
def save_model(model, path, *, overwrite: bool = False) -> Path:
    """Save a fitted model as a directory holding ``model.json`` and ``draws.nc``.

    Parameters
    ----------
    model : BetaGeoModel or GammaGammaModel
        A fitted model.
    path : str or path-like
        The directory to create. Its parent must exist.
    overwrite : bool
        Replace an existing save at ``path``. The old directory is removed only after
        the new one is complete, and only if it holds nothing but the files
        ``save_model`` writes.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False, or ``path`` exists and is not a
        directory written by ``save_model``.
    TypeError
        The model is not a known model class, or a setting or fitted attribute
        cannot be written as JSON (the message names it).
    NotFittedError
        The model has not been fitted.
    FileNotFoundError
        The parent folder of ``path`` does not exist.
    FitError
        The fit's parameters or draws are ones :func:`load_model` refuses (beyond
        exp(+-50): a parameter the data barely identify); nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from clvmodels import BetaGeoModel
    >>> from clvmodels.datasets import load_cdnow_summary
    >>> model = BetaGeoModel(random_state=1).fit(load_cdnow_summary())
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     saved = save_model(model, Path(tmp) / "bgnbd")
    ...     files = sorted(p.name for p in saved.iterdir())
    ...     loaded = load_model(saved, expected_type=BetaGeoModel)
    >>> files
    ['draws.nc', 'model.json']
    >>> loaded.params_.equals(model.params_)
    True
    """
    check_parameter("overwrite", "save_model", overwrite, isinstance(overwrite, bool), "a bool")
    path = Path(path)
    # everything that can fail on the model is checked before touching the disk
    metadata, idata = _describe(model)
    check_fitted_values(model, f"Cannot save to {path}", saving=True)
    text = json.dumps(metadata, indent=2, allow_nan=False) + "\n"
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {path}: the folder {parent} does not exist. Create it first."
        )
    _check_target(path, overwrite)

    tmp = temporary_dir(path)  # the mode of a new folder (mkdtemp's is owner-only)
    try:
        (tmp / MODEL_FILE).write_text(text, encoding="utf-8")
        model.draws_.to_netcdf(tmp / DRAWS_FILE, engine=_NETCDF_ENGINE)
        if idata is not None:
            idata.to_netcdf(tmp / IDATA_FILE, engine=_NETCDF_ENGINE)
        for written in tmp.iterdir():
            _fsync(written)
        _move_into_place(tmp, path, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync(parent)
    return path


def _check_target(path: Path, overwrite: bool) -> None:
    if not (path.exists() or path.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(
            f"Cannot save to {path}: it already exists. Pass overwrite=True to replace it, "
            "or choose another path."
        )
    foreign = (
        [path.name] if not path.is_dir() or path.is_symlink()
        else sorted(p.name for p in path.iterdir() if p.name not in _OWN_FILES)
    )
    if foreign:
        raise FileExistsError(
            f"Refusing to replace {path}: it is not a model directory written by save_model "
            f"(it holds {foreign[:5]}). Choose another path, or remove it yourself."
        )


def _move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename the complete ``tmp`` to ``path``; an old save is renamed away first and
    deleted only once the new one is in place (restored if that rename fails)."""
    if overwrite and path.exists():
        old = old_sibling(path)
        with uninterrupted():  # never the old save gone without the new one in place
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except BaseException:
                os.rename(old, path)
                raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        if path.exists() or path.is_symlink():  # appeared while we were writing
            raise FileExistsError(
                f"Cannot save to {path}: it was created while the model was being written. "
                "Pass overwrite=True to replace it, or choose another path."
            )
        os.rename(tmp, path)


def _fsync(path: Path) -> None:
    """Flush ``path`` (file or directory) to disk; a no-op where the OS refuses."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. directories on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _describe(model) -> tuple[dict, xr.DataTree | None]:
    """``model.json`` contents and the ``idata_`` tree (or None); raises on anything
    that cannot be saved, before anything is written."""
    name = type(model).__name__
    classes = model_classes()
    if classes.get(name) is not type(model):
        raise TypeError(
            f"save_model saves {', '.join(sorted(classes))} instances; got {type(model).__qualname__} "
            f"from {type(model).__module__}."
        )
    draws = getattr(model, "draws_", None)
    if draws is None or not hasattr(model, "params_"):
        raise NotFittedError(model)
    _check_draws(draws, model, f"{name}.draws_", "Refit the model before saving it.")
    idata = getattr(model, "idata_", None)
    if idata is not None and not isinstance(idata, xr.DataTree):
        raise TypeError(
            f"Cannot save {name}.idata_: expected an xarray.DataTree (ArviZ 1.x), got "
            f"{type(idata).__name__}. Convert it with arviz.convert_to_datatree."
        )
    settings = {}
    for p in signature(type(model).__init__).parameters.values():
        if p.name == "self" or p.kind in (Parameter.VAR_POSITIONAL, Parameter.VAR_KEYWORD):
            continue
        if not hasattr(model, p.name):
            raise TypeError(
                f"Cannot save {name}: its setting {p.name!r} is not stored on the model as "
                f"self.{p.name}, so it cannot be read back."
            )
        settings[p.name] = _to_json(getattr(model, p.name), f"{name} setting {p.name!r}")
    fitted = {
        attr: _to_json(value, f"{name}.{attr}")
        for attr, value in vars(model).items()
        if _is_fitted_name(attr) and not (attr in _NETCDF_ATTRS and value is not None)
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "clvmodels_version": _version(),
        "model_type": name,
        "settings": settings,
        "fitted": fitted,
        "has_idata": idata is not None,
    }
    return metadata, idata


def _is_fitted_name(attr: str) -> bool:
    """Fitted state is the public attributes ending in ``_`` (scikit-learn convention)."""
    return attr.isidentifier() and attr.endswith("_") and not attr.startswith("_")


def _registered_key(cls: type) -> str | None:
    """The registered name of ``cls`` or of its nearest registered base class."""
    loaders = _loaders()
    return next((_class_key(c) for c in cls.__mro__ if _class_key(c) in loaders), None)


def _to_json(value, what: str):
    """``value`` as JSON that :func:`_from_json` turns back into an equal value.

    JSON scalars, lists and dicts with str keys are written as they are; everything
    else as a dict tagged ``"__type__"``: non-finite floats, numpy arrays and pandas
    Series of numbers (float64 exactly: ``repr`` round-trips), and objects with
    ``to_dict()`` whose class is registered (:func:`register_class`).
    """
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, (np.bool_, np.integer)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {_TAG: "float", "value": _floats_out(value)}
    if type(value) is list:
        return [_to_json(v, f"{what}[{i}]") for i, v in enumerate(value)]
    if type(value) is dict:
        bad = [k for k in value if type(k) is not str or k == _TAG]
        if bad:
            raise TypeError(f"Cannot save {what}: dict keys must be str (and not {_TAG!r}); "
                            f"got {format_examples(bad)}.")
        return {k: _to_json(v, f"{what}[{k!r}]") for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {_TAG: "ndarray", **_array_out(value, what)}
    if isinstance(value, pd.Series):
        index = value.index.tolist()
        if value.index.nlevels != 1 or not all(type(k) in (str, int) for k in index):
            raise TypeError(f"Cannot save {what}: a Series index must hold str or int labels.")
        if value.name is not None and type(value.name) not in (str, int):
            raise TypeError(f"Cannot save {what}: a Series name must be a str, an int or None.")
        return {_TAG: "series", "name": value.name, "index": index,
                "index_name": value.index.name, **_array_out(value.to_numpy(), what)}
    cls = type(value)
    if not callable(getattr(value, "to_dict", None)):
        raise TypeError(
            f"Cannot save {what}: {value!r} ({cls.__name__}) is not JSON-serializable and "
            "has no to_dict() method. Use None, bool, int, float, str, a list or a dict with "
            "str keys, or give the class to_dict() and from_dict() and register it with "
            "clvmodels.models.persistence.register_class."
        )
    key = _registered_key(cls)
    if key is None:
        raise TypeError(
            f"Cannot save {what}: it is a {_class_key(cls)}, which load_model could not "
            "rebuild. Register the class first with "
            "clvmodels.models.persistence.register_class."
        )
    return {_TAG: "object", "class": key, "data": _to_json(value.to_dict(), what)}


def _floats_out(values):
    """Floats (nested in lists) with NaN and infinities as strings."""
    if isinstance(values, list):
        return [_floats_out(v) for v in values]
    if math.isfinite(values):
        return values
    return "NaN" if math.isnan(values) else ("Infinity" if values > 0 else "-Infinity")


def _array_out(arr: np.ndarray, what: str) -> dict:
    if arr.dtype.kind not in _ARRAY_KINDS or arr.dtype.byteorder == ">":
        raise TypeError(
            f"Cannot save {what}: arrays of dtype {arr.dtype} are not supported (bool, int, "
            "uint and float only)."
        )
    values = arr.tolist()
    if arr.dtype.kind == "f":
        values = _floats_out(values)
    return {"dtype": arr.dtype.name, "shape": list(arr.shape), "values": values}


def _check_draws(draws, model, where: str, fix: str) -> None:
    """Raise IncompatibleModelError unless ``draws`` holds one (chain, draw) float
    variable per parameter of ``model`` (an instance: a covariate model's parameters
    follow its covariates); ``fix`` ends the message."""
    cls = type(model)
    if not isinstance(draws, xr.Dataset):
        raise IncompatibleModelError(
            f"{where} must be an xarray.Dataset; got {type(draws).__name__}. {fix}"
        )
    got, expected = sorted(draws.data_vars), sorted(model.param_names)
    if got != expected:
        raise IncompatibleModelError(
            f"{where} holds draws of {got}, but a {cls.__name__} has parameters {expected}. "
            f"{fix}"
        )
    bad = [n for n in got if draws[n].dims != ("chain", "draw") or draws[n].dtype.kind != "f"]
    if bad:
        raise IncompatibleModelError(
            f"{where}: the draws of {bad} are not float arrays with dims ('chain', 'draw'). "
            f"{fix}"
        )


# --------------------------------------------------------------------- loading
def load_model(path, *, expected_type: type | None = None):
    """Load a model saved by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        The directory ``save_model`` wrote.
    expected_type : class, optional
        Refuse a file holding another model (subclasses accepted, so passing
        ``BaseModel`` accepts any model).

    Returns
    -------
    BetaGeoModel or GammaGammaModel
        The fitted model, its draws held in memory (the files are closed).

    Raises
    ------
    IncompatibleModelError
        The directory or its files are missing, corrupted, of a newer format, of an
        unknown or unexpected model type, or the draws do not match the model.
    """
    if expected_type is not None and not isinstance(expected_type, type):
        raise TypeError(
            f"The 'expected_type' parameter of load_model must be a model class or None. "
            f"Got {expected_type!r} instead."
        )
    path = Path(path)
    if not path.exists():  # a save killed between its two renames: put the old one back
        remove_stale_siblings(path)
    if not path.exists():
        raise IncompatibleModelError(
            f"No saved model at {path}: the path does not exist. Check the path, or save a "
            "model there with save_model."
        )
    if not path.is_dir():
        raise IncompatibleModelError(
            f"{path} is not a directory; is this a clvmodels model directory? save_model "
            f"writes a directory holding {MODEL_FILE} and {DRAWS_FILE}: pass that directory."
        )
    meta = _read_metadata(path)
    cls = _model_class(path, meta, expected_type)
    try:
        model = cls(**_from_json(meta["settings"]))
        fitted = {attr: _from_json(value) for attr, value in meta["fitted"].items()}
        bad = [a for a in fitted if not _is_fitted_name(a)]
        if bad:
            raise ValueError(f"fitted attribute names must end in '_'; got {bad[:5]}")
    except IncompatibleModelError as exc:
        raise IncompatibleModelError(f"{path}: {exc}") from exc
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise IncompatibleModelError(
            f"{path / MODEL_FILE} has settings or fitted state a {cls.__name__} cannot take "
            f"({type(exc).__name__}: {exc}); the file is corrupted or was edited. Save the "
            "model again."
        ) from exc
    for attr, value in fitted.items():
        setattr(model, attr, value)
    model.draws_ = _read_draws(path, model)
    check_fitted_values(model, str(path))
    if meta["has_idata"]:
        model.idata_ = _read_netcdf(path / IDATA_FILE, "the ArviZ inference data", tree=True)
    return model


def _read_metadata(path: Path) -> dict:
    file = path / MODEL_FILE
    if not file.is_file():
        raise IncompatibleModelError(
            f"{path} has no {MODEL_FILE}; is this a clvmodels model directory? Pass the "
            "directory that save_model wrote."
        )
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise IncompatibleModelError(
            f"{file} is unreadable ({exc}); the file is corrupted or not JSON. Save the "
            "model again with save_model."
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise IncompatibleModelError(
            f"{file} is not a clvmodels model file (format {found!r}, expected {FORMAT!r}). "
            "Pass a directory written by save_model."
        )
    version = meta.get("format_version")
    if type(version) is not int or version < 1:
        raise IncompatibleModelError(
            f"{file} has an invalid format_version {version!r}; the file is corrupted. Save "
            "the model again."
        )
    if version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} was saved by clvmodels {meta.get('clvmodels_version', '?')} in model "
            f"format version {version}; this clvmodels {_version()} reads versions "
            f"up to {FORMAT_VERSION}. Upgrade clvmodels to load it."
        )
    missing = [k for k in ("model_type", "settings", "fitted", "has_idata") if k not in meta]
    if missing or not isinstance(meta["settings"], dict) or not isinstance(
        meta["fitted"], dict
    ) or not isinstance(meta["has_idata"], bool):
        raise IncompatibleModelError(
            f"{file} lacks {missing or 'well-formed settings and fitted state'}; the file is "
            "corrupted. Save the model again."
        )
    return meta


def _model_class(path: Path, meta: dict, expected_type: type | None) -> type:
    classes = model_classes()
    name = meta["model_type"]
    if not isinstance(name, str) or name not in classes:
        raise IncompatibleModelError(
            f"{path} holds a model of type {name!r}, which this clvmodels cannot load "
            f"(known: {', '.join(classes)}). Upgrade clvmodels, or check the path."
        )
    cls = classes[name]
    if expected_type is not None and not issubclass(cls, expected_type):
        raise IncompatibleModelError(
            f"{path}: this file holds a {name}, not a {expected_type.__name__}. Load it as a "
            f"{name}, or pass the path of a saved {expected_type.__name__}."
        )
    return cls


def _floats_in(values):
    """Inverse of :func:`_floats_out`."""
    if isinstance(values, list):
        return [_floats_in(v) for v in values]
    if isinstance(values, str):
        return _NON_FINITE[values]
    if type(values) not in (int, float):
        raise TypeError(f"expected a number, got {values!r}")
    return float(values)


def _array_in(enc: dict) -> np.ndarray:
    dtype = np.dtype(enc["dtype"])
    if dtype.kind not in _ARRAY_KINDS:
        raise ValueError(f"unsupported dtype {enc['dtype']!r}")
    values = _floats_in(enc["values"]) if dtype.kind == "f" else enc["values"]
    return np.array(values, dtype=dtype).reshape(tuple(enc["shape"]))


def _from_json(obj):
    """Inverse of :func:`_to_json`; raises IncompatibleModelError for an object of a
    class that is not registered, KeyError/TypeError/ValueError for a malformed one."""
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if _TAG not in obj:
        return {k: _from_json(v) for k, v in obj.items()}
    kind = obj[_TAG]
    if kind == "float":
        return _floats_in(obj["value"])
    if kind == "ndarray":
        return _array_in(obj)
    if kind == "series":
        index = pd.Index(obj["index"], name=obj["index_name"])
        return pd.Series(_array_in(obj), index=index, name=obj["name"])
    if kind == "object":
        loader = _loaders().get(obj["class"])
        if loader is None:
            raise IncompatibleModelError(
                f"it holds an object of class {obj['class']!r}, which is not registered for "
                "loading. Import the package that defines it and register the class with "
                "clvmodels.models.persistence.register_class, then load again."
            )
        return loader(_from_json(obj["data"]))
    raise ValueError(f"unknown encoded type {kind!r}")


def _read_netcdf(file: Path, what: str, *, tree: bool = False):
    """Open ``file``, load it into memory and close it (so the directory can be
    replaced or deleted afterwards)."""
    if not file.is_file():
        raise IncompatibleModelError(
            f"{file.parent} has no {file.name} ({what}); the save is incomplete. Save the "
            "model again."
        )
    opener = xr.open_datatree if tree else xr.open_dataset
    try:
        with opener(file, engine=_NETCDF_ENGINE) as handle:
            data = handle.load()
    except Exception as exc:  # h5py/h5netcdf raise OSError, ValueError, KeyError, ...
        raise IncompatibleModelError(
            f"{file} ({what}) is unreadable ({type(exc).__name__}: {exc}); the file is "
            "truncated or corrupted. Save the model again."
        ) from exc
    if tree:
        return data.map_over_datasets(lambda ds: ds.drop_encoding())
    return data.drop_encoding()


#: every parameter of every model is positive, and fits keep them well inside
#: exp(+-LOG_PARAM_LIMIT) (maximum likelihood and MAP search exp(+-15), Gamma-Gamma's
#: money scale on amounts rescaled to about 1, so up to exp(15) times the amounts' size);
#: values beyond it, or not finite, come from a corrupted or edited file and give
#: inf/NaN values
LOG_PARAM_LIMIT = 50.0


def _bad_values(values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return ~(np.isfinite(values) & (values > 0)
                 & (np.abs(np.log(np.where(values > 0, values, 1.0))) <= LOG_PARAM_LIMIT))


def check_fitted_values(model, where: str, *, saving: bool = False) -> None:
    """Refuse a loaded model whose parameters or draws would give NaN or infinite values:
    not finite, not positive, beyond exp(+-50), or (maximum likelihood, MAP) a point
    estimate that is not exp(log_params_). Raises IncompatibleModelError naming them;
    with ``saving``, a FitError: :func:`save_model` refuses such a fit, so at load they
    mean a corrupted or edited file."""
    names = list(model.param_names)
    problems = []
    params = getattr(model, "params_", None)
    if not isinstance(params, pd.Series) or sorted(params.index) != sorted(names):
        problems.append(f"params_ is not a Series of {names}")
    else:
        values = params.reindex(names).to_numpy(dtype=np.float64, na_value=np.nan)
        problems += [f"{n}={float(v)!r}"
                     for n, v, bad in zip(names, values, _bad_values(values)) if bad]
        logs = np.asarray(getattr(model, "log_params_", []), dtype=np.float64)
        if (not problems and getattr(model, "fit_method_", None) in ("mle", "map")
                and logs.shape == values.shape
                and not np.allclose(np.exp(logs), values, rtol=1e-9, atol=0.0)):
            problems.append(f"params_ {dict(zip(names, values.tolist()))} is not "
                            f"exp(log_params_) {np.exp(logs).tolist()}")
    for n in names:
        draws = np.asarray(model.draws_[n].values, dtype=np.float64)
        bad = _bad_values(draws)
        if bad.any():
            problems.append(f"{int(bad.sum()):,} of the {draws.size:,} draws of {n!r}, e.g. "
                            f"{format_examples(draws[bad].tolist(), 3)}")
    if problems and saving:
        raise FitError(
            f"{where}: the fitted {type(model).__name__} has parameter values that "
            f"load_model refuses ({'; '.join(problems[:4])}): they must be finite, positive "
            f"and between exp(-{LOG_PARAM_LIMIT:g}) and exp({LOG_PARAM_LIMIT:g}), or its "
            "predictions would be NaN or infinite. The data barely identify a parameter (its "
            "draws spread over many orders of magnitude, typically a fit next to a boundary "
            "where a mixing distribution collapses). Nothing was written: fit again with "
            "method='map' (its priors keep every parameter finite) or a simpler model, and "
            "save that.",
            cli_message=f"{where}: the fitted {type(model).__name__} has parameter values a "
            f"saved model cannot hold ({'; '.join(problems[:4])}): the data barely identify a "
            "parameter. Nothing was written: fit again with --method map."
        )
    if problems:
        raise IncompatibleModelError(
            f"{where}: the saved {type(model).__name__} has unusable parameter values "
            f"({'; '.join(problems[:4])}): a fitted model has finite, positive parameters "
            f"between exp(-{LOG_PARAM_LIMIT:g}) and exp({LOG_PARAM_LIMIT:g}), so its "
            "predictions would be NaN or infinite. save_model refuses to write such a fit, so "
            "the files were corrupted or edited: fit and save the model again."
        )


def _read_draws(path: Path, model) -> xr.Dataset:
    file = path / DRAWS_FILE
    draws = _read_netcdf(file, "the parameter draws")
    _check_draws(draws, model, str(file), "The draws belong to another model or were edited; "
                 "save the model again.")
    return draws
