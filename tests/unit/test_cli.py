"""The ``unival`` console command: the installed script, dispatch, and lazy imports."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from unival import cli

UNIVAL_SCRIPT = Path(sys.executable).parent / "unival"


def run_unival(*args: str) -> subprocess.CompletedProcess:
    assert UNIVAL_SCRIPT.is_file(), f"{UNIVAL_SCRIPT} missing: pip install --no-deps -e ."
    return subprocess.run([str(UNIVAL_SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_installed_script_help_lists_every_command():
    proc = run_unival("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: unival")
    for name in ("eval", "toy-world", "demo", "predict", "export", "merge", "version"):
        assert f"\n    {name}" in proc.stdout, name


def test_installed_script_version_matches_the_distribution():
    proc = run_unival("version")
    assert proc.returncode == 0, proc.stderr
    expected = (
        f"unival-toolkit {importlib.metadata.version('unival-toolkit')} "
        f"(fairseq-fixed {importlib.metadata.version('fairseq-fixed')}, "
        f"torch {importlib.metadata.version('torch')}, python "
    )
    assert proc.stdout.startswith(expected)
    assert len(proc.stdout.splitlines()) == 1


def test_installed_script_rejects_unknown_and_missing_commands():
    proc = run_unival("frobnicate")
    assert proc.returncode == 2 and "invalid choice: 'frobnicate'" in proc.stderr
    proc = run_unival()
    assert proc.returncode == 2 and "required: COMMAND" in proc.stderr


def test_eval_help_is_the_evaluators_own():
    proc = run_unival("eval", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--results-path" in proc.stdout


@pytest.mark.parametrize(
    "command, module",
    [
        ("eval", "unival.commands.eval"),
        ("demo", "unival.commands.demo"),
        ("merge", "unival.commands.merge"),
        ("predict", "unival.commands.predict"),
    ],
)
def test_commands_hand_their_arguments_to_main(monkeypatch, command, module):
    target = pytest.importorskip(module)
    seen = []

    def fake_main(argv):
        seen.append(argv)
        return 3

    monkeypatch.setattr(target, "main", fake_main)
    assert cli.main([command, "ckpt.pt", "--beam", "2", "--help"]) == 3
    assert seen == [["ckpt.pt", "--beam", "2", "--help"]]


def test_toy_world_command_writes_the_toy_world(tmp_path):
    status = cli.main(
        [
            "toy-world",
            "--out",
            str(tmp_path),
            "--seed",
            "3",
            "--num-train",
            "2",
            "--num-valid",
            "1",
            "--num-test",
            "1",
            "--image-size",
            "32",
        ]
    )
    assert status == 0
    train_rows = [
        row.split("\t") for row in (tmp_path / "caption_train.tsv").read_text().splitlines()
    ]
    assert {len(row) for row in train_rows} == {5}  # uniq_id, image_id, caption, labels, image
    assert len({row[1] for row in train_rows}) == 2  # two training images (one row per caption)
    assert len((tmp_path / "caption_test.tsv").read_text().splitlines()) == 1
    assert (tmp_path / "dict.txt").is_file()


def test_importing_the_cli_loads_no_command_module():
    code = (
        "import sys, unival.cli; "
        "print(sorted(m for m in ('unival.commands.eval', 'unival.demo',"
        " 'unival.commands.toy_world', 'unival.commands.merge',"
        " 'unival.commands.predict', 'unival.evaluation') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- `unival demo` helpers


def test_demo_most_frequent_caption_normalises_like_the_task():
    from unival.demo.caption import most_frequent_caption

    assert most_frequent_caption(["A dog.", "a cat", "a dog", "the cat"]) == "a dog"


def test_demo_constant_caption_scores_by_hand():
    from unival.demo.caption import score_constant_caption

    refs = {
        "1": ["a big red circle left of a small blue square"],
        "2": ["there are three shapes of green colour in total"],
    }
    scores = score_constant_caption("a big red circle left of a small blue square", refs)
    # image 1: exact match, every n-gram has df 1 of 2 images -> cosine 1 -> CIDEr-D 10;
    # image 2 shares no word -> 0; corpus CIDEr-D = mean = 5
    assert scores["cider"] == pytest.approx(5.0, abs=1e-6)


def test_demo_shuffle_rows_is_a_seeded_permutation(tmp_path):
    from unival.demo.context import shuffle_rows

    src = tmp_path / "train.tsv"
    src.write_text("".join(f"{i}\tcaption {i}\n" for i in range(50)))
    shuffle_rows(src, tmp_path / "a.tsv", seed=0)
    shuffle_rows(src, tmp_path / "b.tsv", seed=0)
    a = (tmp_path / "a.tsv").read_text()
    assert a == (tmp_path / "b.tsv").read_text()
    assert sorted(a.splitlines()) == sorted(src.read_text().splitlines())
    assert a != src.read_text()


def test_demo_examples_show_the_closest_reference():
    from unival.demo.caption import pick_examples

    predictions = [{"image_id": 10, "caption": "x"}, {"image_id": 2, "caption": "a red circle"}]
    refs = {"2": ["a blue square", "there is a red circle", "one shape"], "10": ["y"]}
    examples = pick_examples(predictions, refs, count=1)
    assert examples == [
        {
            "id": "2",
            "prediction": "a red circle",
            "closest_reference": "there is a red circle",
            "references": refs["2"],
        }
    ]


def test_demo_environment_drops_run_script_settings(monkeypatch):
    from unival.demo.context import demo_environment, run_script_variables

    names = run_script_variables()
    assert {"LR", "ARCH", "EXTRA_ARGS", "UNIVAL_OUT", "CHECKPOINT", "TRAIN_DATA"} <= names
    monkeypatch.setenv("LR", "99")
    monkeypatch.setenv("EXTRA_ARGS", "--lr 3")
    env = demo_environment()
    assert "LR" not in env and "EXTRA_ARGS" not in env
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
