"""Each fix in unival.compat, pinned by a case that fails without it."""

import argparse
import datetime
import os
import pickle

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from unival import compat, safe_load


class _RunsShellOnLoad:
    """Unpickling this calls os.system (the classic malicious-checkpoint payload)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _fairseq_style_state(tmp_path):
    """The top-level layout fairseq's Trainer.state_dict writes, with a legacy Namespace."""
    from fairseq.checkpoint_utils import torch_persistent_save

    model_args = argparse.Namespace(arch="unival_tiny", encoder_layers=2, dropout=0.1)
    cfg = {"common": {"seed": 1}, "model": model_args, "task": {"_name": "caption"}}
    state = {
        "args": None,
        "cfg": cfg,
        "model": {"w": torch.arange(6.0).reshape(2, 3)},
        "criterion": None,
        "optimizer_history": [
            {
                "criterion_name": "X",
                "optimizer_name": "Y",
                "lr_scheduler_state": {"best": np.float64(0.5)},
                "num_updates": 3,
            }
        ],
        "task_state": {},
        "extra_state": {
            "metrics": {},
            "val_loss": np.float64(1.25),
            "best": np.float32(2.0),
            "train_iterator": {"epoch": 2, "iterations_in_epoch": 0},
        },
    }
    path = tmp_path / "checkpoint_last.pt"
    torch_persistent_save(state, str(path))
    return path


def test_bare_torch_load_refuses_namespace_checkpoints(tmp_path):
    """Pins the upstream behaviour the fix exists for (torch >= 2.6 default)."""
    path = _fairseq_style_state(tmp_path)
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
        torch.load(path)


def test_fairseq_load_checkpoint_to_cpu_reads_namespace_checkpoint(tmp_path):
    from fairseq import checkpoint_utils

    path = _fairseq_style_state(tmp_path)
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert state["cfg"].model.arch == "unival_tiny"
    assert state["cfg"].model.encoder_layers == 2
    assert torch.equal(state["model"]["w"], torch.arange(6.0).reshape(2, 3))
    assert float(state["extra_state"]["val_loss"]) == 1.25


def test_load_checkpoint_file_reads_omegaconf_and_numpy(tmp_path):
    cfg = OmegaConf.create(
        {"a": 1, "b": [1, 2.5], "c": {"d": "x", "e": None}}, flags={"allow_objects": True}
    )
    cfg.c.ns = argparse.Namespace(k=3)
    path = tmp_path / "oc.pt"
    torch.save({"cfg": cfg, "arr": np.arange(3), "i": np.int64(7)}, path)
    loaded = safe_load.load_checkpoint_file(path)
    assert loaded["cfg"].b[1] == 2.5 and loaded["cfg"].c.ns.k == 3
    assert loaded["arr"].tolist() == [0, 1, 2] and loaded["i"] == 7


def test_numpy1_scalar_path_of_older_checkpoints(tmp_path):
    """Files written under numpy < 2 name numpy.core.multiarray.scalar (metrics, best score)."""
    import io

    buffer = io.BytesIO()
    torch.save({"best": np.float64(2.5)}, buffer, _use_new_zipfile_serialization=False)
    new_name = b"numpy._core.multiarray\nscalar"  # protocol-2 GLOBAL: newline-terminated names
    assert buffer.getvalue().count(new_name) == 1
    path = tmp_path / "old_numpy.pt"
    path.write_bytes(buffer.getvalue().replace(new_name, b"numpy.core.multiarray\nscalar"))
    assert safe_load.load_checkpoint_file(path)["best"] == 2.5


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    from fairseq import checkpoint_utils

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "cfg": _RunsShellOnLoad(marker)}, path)

    with pytest.raises(safe_load.UntrustedCheckpointError) as info:
        safe_load.load_checkpoint_file(path)
    assert str(path) in str(info.value)
    assert "system" in info.value.global_name  # posix.system / nt.system
    assert not marker.exists()

    with pytest.raises(pickle.UnpicklingError, match="evil.pt"):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not marker.exists()


def test_trusted_loads_globals_outside_the_allow_list(tmp_path, monkeypatch):
    path = tmp_path / "date.pt"
    torch.save({"when": datetime.date(2023, 7, 1)}, path)
    monkeypatch.delenv(safe_load.TRUST_ENV_VAR, raising=False)
    with pytest.raises(safe_load.UntrustedCheckpointError, match="datetime.date"):
        safe_load.load_checkpoint_file(path)
    assert safe_load.load_checkpoint_file(path, trusted=True)["when"] == datetime.date(2023, 7, 1)
    monkeypatch.setenv(safe_load.TRUST_ENV_VAR, "1")
    from fairseq import checkpoint_utils

    with open(path, "rb") as f:  # the environment opt-in reaches fairseq's own loader
        assert checkpoint_utils.torch.load(f)["when"].year == 2023


def test_patch_is_idempotent():
    from fairseq import checkpoint_utils

    before = checkpoint_utils.torch
    compat.apply_all()
    assert checkpoint_utils.torch is before
    assert checkpoint_utils.torch.load is safe_load.safe_torch_load
    assert checkpoint_utils.torch.Tensor is torch.Tensor  # everything else is real torch


def test_fairseq_train_restores_its_own_checkpoint(tmp_path):
    """fairseq-train twice on a legacy-args model: the second run resumes (--restore-file)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train

    save_dir = tmp_path / "ck"
    argv = (
        "--task dummy_lm --dict-size 100 --dataset-size 8 --tokens-per-sample 16 "
        "--arch lstm_lm --decoder-layers 1 --decoder-embed-dim 8 --decoder-hidden-size 8 "
        "--decoder-out-embed-dim 8 --optimizer adam --lr 1e-3 --batch-size 4 --cpu "
        "--no-epoch-checkpoints --log-format none --disable-validation --num-workers 0 "
        f"--save-dir {save_dir}"
    ).split()
    for max_update in (1, 2):
        parser = options.get_training_parser()
        args = options.parse_args_and_arch(parser, argv + ["--max-update", str(max_update)])
        train.main(convert_namespace_to_omegaconf(args))
    state = safe_load.load_checkpoint_file(save_dir / "checkpoint_last.pt")
    assert isinstance(state["cfg"]["model"], argparse.Namespace)
    assert state["optimizer_history"][-1]["num_updates"] == 2  # resumed, not restarted


def test_numpy_aliases_restored_for_fairseq_dynamic_crf():
    """fairseq's DynamicCRF training path calls np.float("inf") (removed in numpy 2)."""
    from fairseq.modules.dynamic_crf_layer import DynamicCRF

    assert np.int is int and np.float is float
    torch.manual_seed(0)
    crf = DynamicCRF(num_embedding=10, low_rank=4, beam_size=3)
    emissions = torch.randn(2, 5, 10)
    targets = torch.randint(0, 10, (2, 5))
    log_likelihood = crf(emissions, targets, torch.ones(2, 5, dtype=torch.bool))
    assert log_likelihood.shape == (2,) and torch.isfinite(log_likelihood).all()
    assert (log_likelihood <= 0).all()  # a log-probability under the beam approximation


@pytest.mark.parametrize("value", [np.int64(5), np.int32(5), 5, torch.tensor(5)])
def test_as_index_gives_python_int(value):
    out = compat.as_index(value)
    assert out == 5 and type(out) is int


@pytest.mark.parametrize("value", [5.0, True, "5", torch.tensor([1, 2])])
def test_as_index_rejects_non_integers(value):
    with pytest.raises(TypeError):
        compat.as_index(value)


def _train_cfg(data, tmp_path):
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "task": {"data": str(data)},
            "dataset": {
                "ignore_unused_valid_subsets": False,
                "combine_valid_subsets": False,
                "disable_validation": False,
                "valid_subset": "valid",
            },
        }
    )


def test_valid_subset_check_accepts_tsv_lists_but_still_guards_directories(tmp_path):
    from fairseq.data import data_utils

    train, valid = tmp_path / "train.tsv", tmp_path / "valid.tsv"
    train.write_text("x\n")
    valid.write_text("x\n")
    # A comma list of TSV files is not a directory: upstream would os.listdir it and crash.
    data_utils.raise_if_valid_subsets_unintentionally_ignored(
        _train_cfg(f"{train},{valid}", tmp_path)
    )
    # A data directory with an unlisted valid1.* subset is still refused, as upstream does.
    data_dir = tmp_path / "bin"
    data_dir.mkdir()
    (data_dir / "valid1.en").write_text("x\n")
    with pytest.raises(ValueError, match="valid1"):
        data_utils.raise_if_valid_subsets_unintentionally_ignored(_train_cfg(data_dir, tmp_path))


def test_bf16_does_not_send_fairseq_train_to_a_tpu():
    """fairseq's parser sets tpu=True with --bf16; without torch_xla call_main turns it off."""
    from fairseq.dataclass.configs import FairseqConfig
    from fairseq.distributed import utils as distributed_utils

    seen = []
    for bf16 in (True, False):
        cfg = OmegaConf.structured(FairseqConfig())
        cfg.common.bf16, cfg.common.tpu = bf16, True
        distributed_utils.call_main(cfg, lambda c: seen.append(c.common.tpu))
    # an explicit --tpu without bf16 is not ours to change (fairseq then asks torch_xla)
    assert seen == [False, True]


def test_bf16_off_tpu_for_trainers_set_up_without_call_main():
    """The benchmarks build fairseq's Trainer in-process, past call_main: same check."""
    from fairseq.dataclass.configs import FairseqConfig

    modes = []
    for bf16 in (True, False):
        cfg = OmegaConf.structured(FairseqConfig())
        cfg.common.bf16, cfg.common.tpu = bf16, True
        compat.keep_bf16_off_tpu(cfg)
        modes.append(cfg.common.tpu)
    assert modes == [False, True]


_LOGGING_PROBE = """
import logging, sys
import unival
root = logging.getLogger()
print(logging.getLevelName(root.level), len(root.handlers))
logging.basicConfig(level=logging.INFO, format="mine %(name)s %(message)s")
logging.getLogger("probe").info("configured")
from PIL import Image
Image.new("RGB", (4, 4)).save(sys.argv[1])
Image.open(sys.argv[1]).load()
logging.getLogger("probe").debug("hidden")
"""


def test_importing_unival_leaves_the_root_logger_to_the_program(tmp_path):
    """fairseq configures the root logger at DEBUG when its models are imported: without the
    fix, the program's own basicConfig is ignored and PIL's debug lines reach stderr."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _LOGGING_PROBE, str(tmp_path / "x.png")],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["WARNING", "0"]
    lines = proc.stderr.splitlines()
    assert lines == ["mine probe configured"], lines


def test_fairseq_epoch_iterator_pins_only_with_an_accelerator():
    """fairseq asks every epoch's DataLoader for pinned memory; without an accelerator torch
    ignores it and warns once per epoch, which filled the CPU training logs."""
    import warnings

    from fairseq.data import iterators

    dataset = torch.utils.data.TensorDataset(torch.arange(6.0))
    itr = iterators.EpochBatchIterator(
        dataset=dataset, collate_fn=lambda rows: rows, batch_sampler=[[0, 1], [2, 3], [4, 5]]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = [list(itr.next_epoch_itr(shuffle=False)) for _ in range(2)]
    assert [len(b) for b in batches] == [3, 3]
    assert [float(row[0]) for row in batches[1][2]] == [4.0, 5.0]
    assert not [w for w in caught if "pin_memory" in str(w.message)]
    loader_iter = itr._get_iterator_for_epoch(1, shuffle=False)._itr  # the DataLoader's
    assert loader_iter._pin_memory == torch.accelerator.is_available()
