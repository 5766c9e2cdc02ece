"""Helpers of the converter tests: load a ``data_utils`` script, write small real JPEGs."""

import importlib.util

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def load_script(repo_root):
    def load(name):
        module_spec = importlib.util.spec_from_file_location(
            f"data_utils_{name}", repo_root / "data_utils" / f"{name}.py"
        )
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def make_jpeg():
    """``make_jpeg(path, size, colour)`` writes a real JPEG; returns its bytes."""

    def make(path, size=(20, 12), colour=(200, 30, 30)):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, colour).save(path, format="JPEG")
        return path.read_bytes()

    return make
