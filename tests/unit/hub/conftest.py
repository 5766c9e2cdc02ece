"""Toy checkpoints (random ``unival_tiny`` weights) in the released and fairseq layouts."""

import pytest

from unival.testing.toy_checkpoint import write_toy_checkpoint


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hub_toy")


@pytest.fixture(scope="session")
def released_caption(toy_dir):
    """A caption checkpoint in the released layout (cfg.model a Namespace named unival_base)."""
    return write_toy_checkpoint(toy_dir / "released", "caption", layout="released")


@pytest.fixture(scope="session")
def released_vqa(toy_dir):
    return write_toy_checkpoint(toy_dir / "released_vqa", "vqa_gen", layout="released")


@pytest.fixture(scope="session")
def caption_predictor(released_caption):
    from unival.hub import load

    return load(released_caption, device="cpu")
