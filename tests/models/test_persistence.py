"""Saving and loading fitted models (clvmodels/models/persistence.py)."""

import copy
import inspect
import json
import os
import shutil
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import clvmodels
from clvmodels import (
    BetaGeoModel,
    GammaGammaModel,
    IncompatibleModelError,
    NotFittedError,
    customer_lifetime_value,
)
from clvmodels.datasets import load_cdnow_summary
from clvmodels.models import persistence
from clvmodels.models.base import BaseModel
from clvmodels.models.persistence import load_model, register_class, save_model
from clvmodels.priors import Gamma


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeoModel(random_state=7).fit(cdnow)


@pytest.fixture(scope="module")
def gg(cdnow):
    return GammaGammaModel(random_state=8).fit(cdnow)


@pytest.fixture
def saved_bg(tmp_path, bg):
    return save_model(bg, tmp_path / "bg")


def _edit_json(path, **changes):
    file = path / "model.json"
    meta = json.loads(file.read_text())
    meta.update(changes)
    file.write_text(json.dumps(meta))


def _assert_same_state(loaded, original):
    """Every setting and fitted attribute is equal, with the same type."""
    assert type(loaded) is type(original)
    assert vars(loaded).keys() == vars(original).keys()
    for name, value in vars(original).items():
        got = getattr(loaded, name)
        assert type(got) is type(value), name
        if isinstance(value, pd.Series):
            pd.testing.assert_series_equal(got, value, check_exact=True)
        elif isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and np.array_equal(got, value), name
        elif isinstance(value, (xr.Dataset, xr.DataTree)):
            assert got.identical(value), name
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(got), name
        else:
            assert got == value, name


# ------------------------------------------------------------------ round trips
def test_beta_geo_round_trip_is_exact(tmp_path, bg, cdnow):
    path = save_model(bg, tmp_path / "bg")
    assert path == tmp_path / "bg"
    assert sorted(p.name for p in path.iterdir()) == ["draws.nc", "model.json"]
    loaded = load_model(path, expected_type=BetaGeoModel)
    _assert_same_state(loaded, bg)
    assert loaded.draws_.identical(bg.draws_)
    pd.testing.assert_frame_equal(loaded.summary(), bg.summary(), check_exact=True)
    pd.testing.assert_series_equal(loaded.expected_purchases(cdnow, 39.0),
                                   bg.expected_purchases(cdnow, 39.0), check_exact=True)
    pd.testing.assert_series_equal(loaded.probability_alive(cdnow), bg.probability_alive(cdnow),
                                   check_exact=True)


def test_gamma_gamma_round_trip_is_exact(tmp_path, gg, cdnow):
    loaded = load_model(save_model(gg, tmp_path / "gg"), expected_type=GammaGammaModel)
    _assert_same_state(loaded, gg)
    pd.testing.assert_frame_equal(loaded.summary(), gg.summary(), check_exact=True)
    pd.testing.assert_series_equal(loaded.expected_spend(cdnow), gg.expected_spend(cdnow),
                                   check_exact=True)


def test_loaded_models_give_identical_clv(tmp_path, bg, gg, cdnow):
    bg2 = load_model(save_model(bg, tmp_path / "bg"))
    gg2 = load_model(save_model(gg, tmp_path / "gg"))
    expected = customer_lifetime_value(bg, gg, cdnow, n_samples=50, random_state=0)
    got = customer_lifetime_value(bg2, gg2, cdnow, n_samples=50, random_state=0)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_model_json_records_format_type_version_and_settings(saved_bg, bg):
    meta = json.loads((saved_bg / "model.json").read_text())
    assert meta["format"] == "clvmodels-model" and meta["format_version"] == 1
    assert meta["clvmodels_version"] == clvmodels.__version__
    assert meta["model_type"] == "BetaGeoModel"
    init = inspect.signature(BetaGeoModel.__init__).parameters
    assert list(meta["settings"]) == [p for p in init if p != "self"]
    assert meta["settings"]["random_state"] == 7
    assert meta["fitted"]["time_unit_"] == "week"
    assert "draws_" not in meta["fitted"]


def test_idata_tree_round_trips(tmp_path, bg, rng):
    shape = (2, 5)
    posterior = xr.Dataset(
        {n: (("chain", "draw"), rng.gamma(2.0, size=shape)) for n in bg.param_names},
        coords={"chain": [0, 1], "draw": np.arange(5)},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), rng.random(shape) < 0.1),
                        "lp": (("chain", "draw"), rng.normal(size=shape))})
    tree = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    model = copy.copy(bg)
    model.idata_ = tree
    path = save_model(model, tmp_path / "bayes")
    assert sorted(p.name for p in path.iterdir()) == ["draws.nc", "idata.nc", "model.json"]
    loaded = load_model(path)
    assert loaded.idata_.identical(tree)
    # everything is in memory and the files are closed: the save can be replaced
    save_model(loaded, path, overwrite=True)
    shutil.rmtree(path)
    assert loaded.idata_.identical(tree) and loaded.draws_.identical(bg.draws_)


def test_non_finite_floats_and_priors_round_trip_as_standard_json(tmp_path, bg):
    model = copy.copy(bg)
    model.aic_ = float("nan")
    model.log_likelihood_ = float("-inf")
    model.covariance_log_ = np.where(np.eye(4) > 0, np.inf, bg.covariance_log_)
    model.priors = {"r": Gamma(2.0, 4.0)}
    path = save_model(model, tmp_path / "m")
    text = (path / "model.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    loaded = load_model(path)
    _assert_same_state(loaded, model)
    assert loaded.priors == {"r": Gamma(2.0, 4.0)}


def test_registered_setting_class_is_rebuilt_with_from_dict(tmp_path, bg, monkeypatch):
    monkeypatch.setattr(persistence, "_REGISTERED", {})

    @dataclass
    class Cap:
        value: float

        def to_dict(self):
            return asdict(self)

        @classmethod
        def from_dict(cls, d):
            return cls(**d)

    model = copy.copy(bg)
    model.time_unit = Cap(2.5)  # any setting: the walk is the same for every value
    with pytest.raises(TypeError, match=r"setting 'time_unit'.*register_class"):
        save_model(model, tmp_path / "m")
    register_class(Cap)
    path = save_model(model, tmp_path / "m")
    assert load_model(path).time_unit == Cap(2.5)
    monkeypatch.setattr(persistence, "_REGISTERED", {})
    with pytest.raises(IncompatibleModelError, match=r"Cap'.*not registered.*register_class"):
        load_model(path)


# ---------------------------------------------------------------- save errors
def test_save_refuses_unfitted_and_unknown_models(tmp_path, bg):
    with pytest.raises(NotFittedError, match="This BetaGeoModel instance is not fitted yet"):
        save_model(BetaGeoModel(), tmp_path / "m")

    class MyModel(BetaGeoModel):
        pass

    with pytest.raises(TypeError,
                       match=r"save_model saves .*, BetaGeoModel, .* instances; got .*MyModel"):
        save_model(MyModel(), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_save_names_a_setting_that_is_not_json(tmp_path, bg):
    model = copy.copy(bg)
    model.time_unit = object()
    with pytest.raises(TypeError, match=r"setting 'time_unit'.*not JSON-serializable and has "
                                        r"no to_dict\(\)"):
        save_model(model, tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_save_names_a_fitted_attribute_it_cannot_write(tmp_path, bg):
    model = copy.copy(bg)
    model.segments_ = {1, 2}
    with pytest.raises(TypeError, match=r"BetaGeoModel\.segments_.*\(set\) is not "
                                        "JSON-serializable"):
        save_model(model, tmp_path / "m")


def test_save_checks_overwrite_and_parent(tmp_path, bg):
    with pytest.raises(ValueError, match=r"The 'overwrite' parameter of save_model must be a "
                                         r"bool\. Got 'yes' instead\."):
        save_model(bg, tmp_path / "m", overwrite="yes")
    with pytest.raises(FileNotFoundError, match=r"the folder .*missing does not exist"):
        save_model(bg, tmp_path / "missing" / "m")


# ------------------------------------------------------------------- atomicity
def _snapshot(path):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in path.iterdir()}


def test_existing_save_is_kept_without_overwrite(saved_bg, gg):
    before = _snapshot(saved_bg)
    with pytest.raises(FileExistsError, match=r"already exists\. Pass overwrite=True"):
        save_model(gg, saved_bg)
    assert _snapshot(saved_bg) == before
    assert os.listdir(saved_bg.parent) == ["bg"]


def test_overwrite_replaces_the_save(saved_bg, gg):
    save_model(gg, saved_bg, overwrite=True)
    assert isinstance(load_model(saved_bg), GammaGammaModel)
    assert os.listdir(saved_bg.parent) == ["bg"]


def test_overwrite_refuses_a_directory_that_is_not_a_save(tmp_path, bg):
    target = tmp_path / "docs"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"Refusing to replace .*\['notes.txt'\]"):
        save_model(bg, target, overwrite=True)
    assert (target / "notes.txt").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["docs"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_failed_write_leaves_old_save_and_no_temporary_directory(saved_bg, gg, bg,
                                                                 monkeypatch, overwrite):
    before = _snapshot(saved_bg)

    def disk_full(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", disk_full)
    target = saved_bg if overwrite else saved_bg.parent / "new"
    with pytest.raises(OSError, match="disk full"):
        save_model(gg, target, overwrite=overwrite)
    assert os.listdir(saved_bg.parent) == ["bg"]
    assert _snapshot(saved_bg) == before
    monkeypatch.undo()
    _assert_same_state(load_model(saved_bg), bg)


def test_failed_rename_puts_the_old_save_back(saved_bg, gg, bg, monkeypatch):
    real_rename = os.rename

    def rename(src, dst):
        if ".tmp-" in os.fspath(src):
            raise OSError("rename failed")
        real_rename(src, dst)

    monkeypatch.setattr(persistence.os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        save_model(gg, saved_bg, overwrite=True)
    assert os.listdir(saved_bg.parent) == ["bg"]
    monkeypatch.undo()
    _assert_same_state(load_model(saved_bg), bg)


# ---------------------------------------------------------------- load errors
def test_load_missing_path(tmp_path):
    with pytest.raises(IncompatibleModelError, match=r"No saved model at .*nowhere: the path "
                                                     "does not exist"):
        load_model(tmp_path / "nowhere")


def test_load_a_file_instead_of_a_directory(tmp_path):
    file = tmp_path / "model.json"
    file.write_text("{}")
    with pytest.raises(IncompatibleModelError, match=r"is not a directory; is this a clvmodels "
                                                     "model directory"):
        load_model(file)


def test_load_directory_without_model_json(tmp_path):
    with pytest.raises(IncompatibleModelError, match=r"has no model\.json; is this a clvmodels "
                                                     "model directory"):
        load_model(tmp_path)


def test_load_corrupted_json(saved_bg):
    (saved_bg / "model.json").write_bytes(b"\x00\xffgarbage{")
    with pytest.raises(IncompatibleModelError, match=r"model\.json is unreadable .*corrupted"):
        load_model(saved_bg)


def test_load_foreign_format(saved_bg):
    _edit_json(saved_bg, format="someone-else")
    with pytest.raises(IncompatibleModelError, match=r"not a clvmodels model file \(format "
                                                     r"'someone-else'"):
        load_model(saved_bg)


def test_load_newer_format_version(saved_bg):
    _edit_json(saved_bg, format_version=999, clvmodels_version="9.1")
    with pytest.raises(IncompatibleModelError, match=r"saved by clvmodels 9\.1 in model format "
                                                     r"version 999.*Upgrade clvmodels"):
        load_model(saved_bg)


def test_load_unknown_model_type(saved_bg):
    _edit_json(saved_bg, model_type="os.system")
    with pytest.raises(IncompatibleModelError, match=r"type 'os\.system', which this clvmodels "
                                                     r"cannot load \(known: BetaDiscreteWeibullModel"):
        load_model(saved_bg)


def test_load_with_the_wrong_expected_type(tmp_path, gg):
    path = save_model(gg, tmp_path / "gg")
    with pytest.raises(IncompatibleModelError, match="this file holds a GammaGammaModel, not a "
                                                     "BetaGeoModel"):
        load_model(path, expected_type=BetaGeoModel)
    assert isinstance(load_model(path, expected_type=BaseModel), GammaGammaModel)
    with pytest.raises(TypeError, match="'expected_type' parameter of load_model"):
        load_model(path, expected_type="GammaGammaModel")


def test_load_settings_the_class_does_not_take(saved_bg):
    meta = json.loads((saved_bg / "model.json").read_text())
    _edit_json(saved_bg, settings={**meta["settings"], "bogus": 1})
    with pytest.raises(IncompatibleModelError, match=r"settings or fitted state a BetaGeoModel "
                                                     r"cannot take .*bogus"):
        load_model(saved_bg)


def test_load_refuses_non_attribute_names(saved_bg):
    _edit_json(saved_bg, fitted={"__class__": None})
    with pytest.raises(IncompatibleModelError, match=r"must end in '_'.*__class__"):
        load_model(saved_bg)


def test_load_missing_draws(saved_bg):
    (saved_bg / "draws.nc").unlink()
    with pytest.raises(IncompatibleModelError, match=r"has no draws\.nc \(the parameter draws\); "
                                                     "the save is incomplete"):
        load_model(saved_bg)


def test_load_truncated_draws(saved_bg):
    data = (saved_bg / "draws.nc").read_bytes()
    (saved_bg / "draws.nc").write_bytes(data[: len(data) // 3])
    with pytest.raises(IncompatibleModelError, match=r"draws\.nc \(the parameter draws\) is "
                                                     r"unreadable .*truncated or corrupted"):
        load_model(saved_bg)


def test_load_draws_of_another_model(saved_bg, gg):
    (saved_bg / "draws.nc").unlink()
    gg.draws_.to_netcdf(saved_bg / "draws.nc", engine="h5netcdf")
    with pytest.raises(IncompatibleModelError, match=r"holds draws of \['gamma', 'p', 'q'\], but "
                                                     "a BetaGeoModel has parameters"):
        load_model(saved_bg)


def test_load_missing_idata(tmp_path, bg):
    model = copy.copy(bg)
    model.idata_ = xr.DataTree.from_dict({"posterior": bg.draws_})
    path = save_model(model, tmp_path / "m")
    (path / "idata.nc").unlink()
    with pytest.raises(IncompatibleModelError, match=r"has no idata\.nc"):
        load_model(path)


# ------------------------------------------------------------------- no pickle
def test_persistence_never_uses_pickle():
    source = inspect.getsource(persistence).lower()
    for word in ("pickle", "dill", "joblib"):
        assert word not in source
