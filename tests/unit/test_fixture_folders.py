"""A missing fixture folder (``../shared/parity``) skips its tests, except under CI, where it
fails them: a broken fixture path must not pass CI as a row of skips."""
import pytest
from helpers import require_folder


def test_a_missing_fixture_folder_skips_outside_ci(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="parity is absent"):
        require_folder(tmp_path / "parity", "the reference parity fixtures live there")


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_a_missing_fixture_folder_fails_under_ci(tmp_path, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="parity is absent .*CI=true"):
        require_folder(tmp_path / "parity", "the reference parity fixtures live there")


def test_a_present_folder_is_returned(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require_folder(tmp_path, "x") == tmp_path
