"""No literal machine paths: the run scripts take every path from UNIVAL_DATA / UNIVAL_CKPT /
UNIVAL_OUT (or the repository itself), and no file of the recipes or the package names one."""

import re

import pytest
from test_run_scripts import REPO_ROOT, RUN_SCRIPTS, SCRIPTS, machine, rendered_commands  # noqa: F401

#: an absolute path under a directory that only exists on some machine
MACHINE_PATH = re.compile(
    r"(?<![\w.$}])/(?:home|mnt|data|datasets|scratch|gpfs|lustre|work|nfs|users?|"
    r"cluster|shared|checkpoints?|opt/data|ssd|raid)\d*/",
    re.IGNORECASE,
)
SCANNED = sorted(
    [p for p in RUN_SCRIPTS.rglob("*") if p.is_file()]
    + [p for p in (REPO_ROOT / "fairseq_plugins").rglob("*.py")]
    + [p for p in (REPO_ROOT / "data_utils").rglob("*.py")]
)


def test_no_file_names_a_machine_path():
    assert len(SCANNED) > 50
    offenders = []
    for path in SCANNED:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_pattern_finds_machine_paths():
    for line in (
        "DATA=/home/me/coco",
        "--restore-file=/checkpoints/x.pt",
        "cd /gpfs/projects/u",
        "'/data/a.tsv'",
    ):
        assert MACHINE_PATH.search(line), line
    for line in (
        "#!/usr/bin/env bash",
        "$UNIVAL_DATA/vqa/vqa_train.tsv",
        "${SAVE_DIR}/data/x",
        "a/data/b",
    ):
        assert not MACHINE_PATH.search(line), line


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(RUN_SCRIPTS)))
def test_every_rendered_path_comes_from_the_environment(script, machine):  # noqa: F811
    roots = (machine["UNIVAL_DATA"], machine["UNIVAL_CKPT"], machine["UNIVAL_OUT"], str(REPO_ROOT))
    for argv in rendered_commands(script, machine):
        for arg in argv[1:]:
            value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
            for part in value.split(","):
                if part.startswith("/"):
                    assert part.startswith(roots), f"{script.name}: {arg}"
