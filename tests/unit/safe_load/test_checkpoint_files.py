"""A file given as a checkpoint is checked before unpickling: empty, text and cut-short files
are refused with a sentence naming the file and what is wrong."""

import pytest
import torch

from unival.safe_load import CheckpointFormatError, load_checkpoint_file


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.arange(2000.0)}, "cfg": None}, path)
    return path


def test_a_good_checkpoint_loads(good):
    assert torch.equal(load_checkpoint_file(good)["model"]["w"], torch.arange(2000.0))


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "the file is empty"),
        (
            b"model weights: see the shared drive\n",
            "it starts with b'mode', neither a zip archive nor a pickle (a text file?)",
        ),
        ("half", "the zip archive is truncated or damaged (an interrupted copy or save?)"),
        ("no-end", "the zip archive is truncated or damaged (an interrupted copy or save?)"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_named(tmp_path, good, content, problem):
    data = good.read_bytes()
    if content == "half":
        content = data[: len(data) // 2]
    elif content == "no-end":
        content = data[:-10]
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError) as caught:
        load_checkpoint_file(path)
    assert str(caught.value) == f"{path} is not a readable PyTorch checkpoint: {problem}"


def test_missing_and_folder_paths_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_checkpoint_file(tmp_path / "gone.pt")
    with pytest.raises(IsADirectoryError, match="a folder, not a checkpoint file"):
        load_checkpoint_file(tmp_path)
