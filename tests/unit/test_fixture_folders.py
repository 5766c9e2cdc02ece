"""A missing fixture folder (``../shared/parity``) skips its tests, except under CI, where it
fails them: a broken fixture path must not pass CI as a row of skips."""

import pytest
from helpers import require_folder


def test_a_missing_fixture_folder_skips_outside_ci(tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(BaseException) as caught:
        require_folder(tmp_path / "parity", "the reference parity fixtures live there")
    assert caught.type is pytest.skip.Exception and "parity is absent" in str(caught.value)


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_a_missing_fixture_folder_fails_under_ci(tmp_path, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(BaseException) as caught:  # a skip would propagate past a narrower raises()
        require_folder(tmp_path / "parity", "the reference parity fixtures live there")
    assert caught.type is pytest.fail.Exception and "parity is absent" in str(caught.value)
    assert "CI=true" in str(caught.value)


def test_a_present_folder_is_returned(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require_folder(tmp_path, "x") == tmp_path
