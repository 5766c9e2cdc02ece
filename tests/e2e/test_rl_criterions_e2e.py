"""The new criterions from the shell: fairseq-train of unival_tiny on the toy world.

1. caption with ``adjust_label_smoothed_encouraging_loss`` (drop worst/best on) from scratch;
2. SCST (``scst_reward_criterion``, sampled captions, leave-one-out baseline) fine-tuning the
   checkpoint of 1 on a TSV whose rows join each image's references with "&&";
   and the same with the CHAIR hallucination penalty (rows keyed by image id, scenes JSON as GT);
3. ``refcoco_scst_reward_criterion`` (reward on the "large" bucket only, lambda 5) from scratch.
"""

import re
import subprocess
import sys

import pytest
from helpers import BIN, run_logged

pytestmark = pytest.mark.slow  # three short trainings, about 1.5 minutes on 2 busy CPU cores

TRAIN_INNER = re.compile(r"train_inner \| epoch \d+: .*?loss=([-\d.]+)")
REWARD = re.compile(r"train_inner \| .*?reward=([-\d.]+)")


def common_flags(repo_root, save_dir):
    return [
        "--user-dir",
        repo_root / "fairseq_plugins" / "unival",
        "--arch",
        "unival_tiny",
        "--patch-image-size",
        "64",
        "--optimizer",
        "adam",
        "--cpu",
        "--num-workers",
        "0",
        "--seed",
        "1",
        "--save-dir",
        save_dir,
        "--no-epoch-checkpoints",
        "--ignore-unused-valid-subsets",
        "--log-format",
        "simple",
        "--log-interval",
        "1",
    ]


@pytest.fixture(scope="module")
def toy(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = tmp_path_factory.mktemp("rl_e2e")
    subprocess.run(
        [
            BIN / "unival",
            "toy-world",
            "--out",
            root,
            "--num-train",
            "20",
            "--num-valid",
            "4",
            "--num-test",
            "4",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    by_image = {}
    for line in (root / "caption_train.tsv").read_text().splitlines():
        fields = line.split("\t")
        by_image.setdefault(fields[1], []).append(fields)
    rows = []
    for fields in by_image.values():
        joined = list(fields[0])
        joined[2] = "&&".join(f[2] for f in fields)
        rows.append("\t".join(joined))
    (root / "caption_refs_train.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def encouraging(toy, repo_root):
    log = run_logged(
        [
            BIN / "fairseq-train",
            f"{toy / 'caption_train.tsv'},{toy / 'caption_valid.tsv'}",
            *common_flags(repo_root, toy / "ck_el"),
            "--task",
            "caption",
            "--selected-cols",
            "0,4,2",
            "--criterion",
            "adjust_label_smoothed_encouraging_loss",
            "--label-smoothing",
            "0.1",
            "--log-end",
            "0.75",
            "--drop-worst-ratio",
            "0.05",
            "--drop-worst-after",
            "6",
            "--drop-best-ratio",
            "0.05",
            "--drop-best-after",
            "6",
            "--batch-size",
            "10",
            "--lr",
            "3e-3",
            "--max-update",
            "24",
            "--disable-validation",
        ],
        cwd=repo_root,
        log_path=toy / "el.log",
        timeout=900,
    )
    return {"log": log, "checkpoint": toy / "ck_el" / "checkpoint_last.pt"}


def test_encouraging_loss_trains(encouraging):
    losses = [float(x) for x in TRAIN_INNER.findall(encouraging["log"])]
    assert len(losses) == 24, encouraging["log"][-2000:]
    assert losses[-1] < losses[0] / 2, losses
    # drop worst/best start after update 6: fewer tokens than targets afterwards
    sizes = [
        float(x) for x in re.findall(r"train_inner .*? sample_size=([\d.]+)", encouraging["log"])
    ]
    tokens = [float(x) for x in re.findall(r"train_inner .*? ntokens=([\d.]+)", encouraging["log"])]
    assert sizes[0] == tokens[0] and all(s < t for s, t in zip(sizes[7:], tokens[7:]))
    assert encouraging["checkpoint"].is_file()


def test_scst_fine_tunes_the_caption_model(toy, encouraging, repo_root):
    log = run_logged(
        [
            BIN / "fairseq-train",
            f"{toy / 'caption_refs_train.tsv'},{toy / 'caption_valid.tsv'}",
            *common_flags(repo_root, toy / "ck_scst"),
            "--task",
            "caption",
            "--selected-cols",
            "0,4,2",
            "--criterion",
            "scst_reward_criterion",
            "--scst",
            "--scst-args",
            '{"sampling":true,"beam":4,"max_len_b":10}',
            "--restore-file",
            encouraging["checkpoint"],
            "--reset-optimizer",
            "--reset-dataloader",
            "--reset-meters",
            "--batch-size",
            "5",
            "--lr",
            "1e-4",
            "--max-update",
            "3",
            "--disable-validation",
        ],
        cwd=repo_root,
        log_path=toy / "scst.log",
        timeout=900,
    )
    rewards = [float(x) for x in REWARD.findall(log)]
    assert len(rewards) == 3, log[-2000:]
    assert max(rewards) > 0, log[
        -2000:
    ]  # the CE-trained model's sampled captions share words with the refs
    assert "CIDEr-D document frequencies from 20 images" in log
    gnorms = [float(x) for x in re.findall(r"train_inner .*? gnorm=([\d.]+)", log)]
    assert any(g > 0 for g in gnorms), log[-2000:]


def test_scst_with_a_chair_penalty(toy, encouraging, repo_root):
    rows = [line.split("\t") for line in (toy / "caption_refs_train.tsv").read_text().splitlines()]
    # uniq_id = image_id: the penalty finds each row's objects in scenes_train.json by it
    (toy / "caption_images_train.tsv").write_text(
        "".join("\t".join([f[1], *f[1:]]) + "\n" for f in rows)
    )
    log = run_logged(
        [
            BIN / "fairseq-train",
            f"{toy / 'caption_images_train.tsv'},{toy / 'caption_valid.tsv'}",
            *common_flags(repo_root, toy / "ck_chair"),
            "--task",
            "caption",
            "--selected-cols",
            "0,4,2",
            "--criterion",
            "scst_reward_criterion",
            "--scst",
            "--scst-args",
            '{"sampling":true,"beam":4,"max_len_b":10}',
            "--scst-chair-penalty",
            "0.5",
            "--scst-chair-gt",
            toy / "scenes_train.json",
            "--restore-file",
            encouraging["checkpoint"],
            "--reset-optimizer",
            "--reset-dataloader",
            "--reset-meters",
            "--batch-size",
            "5",
            "--lr",
            "1e-4",
            "--max-update",
            "2",
            "--disable-validation",
        ],
        cwd=repo_root,
        log_path=toy / "scst_chair.log",
        timeout=900,
    )
    logged = re.findall(
        r"train_inner \| .*?reward=([-\d.]+), cider=([-\d.]+), hallucinated=([-\d.]+)", log
    )
    assert len(logged) == 2, log[-2000:]
    for reward, cider, hallucinated in logged:  # means per caption, each rounded to 3 decimals
        assert float(reward) == pytest.approx(float(cider) - 0.5 * float(hallucinated), abs=2e-3)
    # the CE-trained tiny model names objects its scene lacks (0.75 and 0.4 per caption at seed 1)
    assert any(float(h) > 0 for _, _, h in logged), log[-2000:]


def test_refcoco_reward_fine_tuning_runs(toy, repo_root):
    log = run_logged(
        [
            BIN / "fairseq-train",
            f"{toy / 'refcoco_train.tsv'},{toy / 'refcoco_valid.tsv'}",
            *common_flags(repo_root, toy / "ck_ref"),
            "--task",
            "refcoco",
            "--selected-cols",
            "0,4,2,3",
            "--criterion",
            "refcoco_scst_reward_criterion",
            "--scst",
            "--scst-args",
            '{"beam":2,"min_len":4,"max_len_a":0,"max_len_b":4}',
            "--acc-thresh",
            "0.5",
            "--metric",
            "acc",
            "--min-area-size",
            "100",
            "--lambda-reinforce",
            "5",
            "--batch-size",
            "8",
            "--lr",
            "1e-3",
            "--max-update",
            "3",
            "--eval-acc",
            "--eval-args",
            '{"beam":2,"min_len":4,"max_len_a":0,"max_len_b":4}',
            "--validate-interval-updates",
            "3",
        ],
        cwd=repo_root,
        log_path=toy / "refcoco.log",
        timeout=900,
    )
    losses = [float(x) for x in TRAIN_INNER.findall(log)]
    assert len(losses) == 3 and all(x > 0 for x in losses), log[-2000:]
    # 4 generated bins per row (EOS left out): sample_size = 4 * rows
    assert re.search(r"train_inner .*? ntokens=32, nsentences=8, sample_size=32", log), log[-2000:]
    assert re.search(r"valid on 'valid' subset .*\| reward [\d.]+ .*\| score [\d.]+", log), log[
        -2000:
    ]
