"""Every pickle the toolkit reads goes through the allow-list unpickler: a hostile file runs
nothing and is refused naming the file and the global; plain data still loads."""

import os
import pickle
import subprocess
from collections import defaultdict

import numpy as np
import pytest
import torch
from torch import nn

from unival.criterions.cider_cache import load_cider_cached_tokens
from unival.data.convert.refcoco import load_refs
from unival.data.convert.vqa import load_candidates
from unival.data.vqa_dataset import load_candidate_answers
from unival.models.backbones import load_pretrained_backbone
from unival.safe_load import (
    PickleFormatError,
    UnsafePickleError,
    UntrustedCheckpointError,
    load_plain_pickle,
)


class _RunsCode:
    """Unpickling this calls ``os.system`` (what a hostile answer list would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


READERS = {
    "vqa_dataset.load_candidate_answers": load_candidate_answers,
    "convert.vqa.load_candidates": load_candidates,
    "convert.refcoco.load_refs": load_refs,
    "criterions.cider_cache": load_cider_cached_tokens,
    "load_plain_pickle": load_plain_pickle,
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_hostile_pickle_runs_nothing_and_is_refused_by_name(tmp_path, reader):
    marker = tmp_path / "ran"
    evil = tmp_path / "trainval_ans2label.pkl"
    evil.write_bytes(pickle.dumps({"yes": 0, "no": _RunsCode(marker)}))
    with pytest.raises(UnsafePickleError) as caught:
        READERS[reader](str(evil))
    assert not marker.exists(), "the pickled os.system call ran"
    message = str(caught.value)
    assert str(evil) in message and f"'{os.system.__module__}.system'" in message


def test_a_hostile_backbone_file_is_refused(tmp_path):
    marker = tmp_path / "ran"
    evil = tmp_path / "backbone.pth"
    torch.save({"state_dict": {"weight": torch.zeros(2, 2)}, "x": _RunsCode(marker)}, evil)
    with pytest.raises(UntrustedCheckpointError, match="backbone.pth"):
        load_pretrained_backbone(nn.Linear(2, 2, bias=False), str(evil))
    assert not marker.exists()


def test_plain_answer_lists_and_python2_pickles_still_load(tmp_path):
    answers = tmp_path / "ans2label.pkl"
    answers.write_bytes(pickle.dumps({"yes": np.int64(0), "no": np.int64(1), "two": 2}, protocol=2))
    assert load_candidate_answers(answers) == ["yes", "no", "two"]
    assert load_candidates(answers) == ["yes", "no", "two"]
    refs = tmp_path / "refs(unc).p"
    refs.write_bytes(
        pickle.dumps(
            [{"ref_id": 1, "sentences": [{"sent": "left dog"}], "split": "val"}], protocol=0
        )
    )
    assert load_refs(refs)[0]["sentences"][0]["sent"] == "left dog"
    cache = tmp_path / "words.p"
    cache.write_bytes(
        pickle.dumps({"document_frequency": defaultdict(float, {("a",): 2.0}), "ref_len": 0.5})
    )
    assert load_cider_cached_tokens(str(cache)).df == {("a",): 2.0}


def test_a_file_that_is_not_a_pickle_is_named(tmp_path):
    text = tmp_path / "answers.pkl"
    text.write_text("yes\nno\n")
    with pytest.raises(PickleFormatError, match="answers.pkl: not a readable pickle"):
        load_candidate_answers(text)
    truncated = tmp_path / "cut.pkl"
    truncated.write_bytes(pickle.dumps({"yes": 0, "no": 1})[:-3])
    with pytest.raises(PickleFormatError, match="cut.pkl"):
        load_candidate_answers(truncated)


def test_no_other_reader_unpickles(repo_root):
    """The only unrestricted unpickling left is the ``trusted=True`` checkpoint branch."""
    found = subprocess.run(
        ["grep", "-rn", r"pickle.load\|weights_only=False", "fairseq_plugins", "data_utils"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    ).stdout
    code = []
    for line in found.splitlines():
        path, number, text = line.split(":", 2)
        if not text.lstrip().startswith(("``", "explicit", "#")) and "pickle_files.py" not in path:
            code.append((path, int(number)))
    assert [path for path, _ in code] == ["fairseq_plugins/unival/safe_load/checkpoint.py"], found
    source = (repo_root / code[0][0]).read_text().splitlines()
    assert source[code[0][1] - 2].strip() == "if trusted:", found
