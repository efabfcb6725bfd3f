import sys

import joblib
import pytest

from acctax_assets.ml.candidates import baseline
from acctax_assets.ml.candidates.baseline import BaselineSettings
from acctax_assets.ml.candidates.stored import load_stored


def test_a_pickle_from_before_the_rooms_still_loads(tmp_path, monkeypatch):
    """A baseline stored by a release whose module was `acctax_assets.ml.baseline` loads into today's class."""
    monkeypatch.setitem(sys.modules, "acctax_assets.ml.baseline", baseline)
    monkeypatch.setattr(BaselineSettings, "__module__", "acctax_assets.ml.baseline")
    joblib.dump(BaselineSettings(), tmp_path / "model.joblib")
    monkeypatch.undo()
    assert b"acctax_assets.ml.baseline\x94" in (tmp_path / "model.joblib").read_bytes()

    with pytest.raises(ModuleNotFoundError):
        joblib.load(tmp_path / "model.joblib")
    assert load_stored(tmp_path / "model.joblib") == BaselineSettings()
    assert "acctax_assets.ml.baseline" not in sys.modules
