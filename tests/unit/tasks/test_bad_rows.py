"""Rows a task cannot use: a wrong column count (a stray tab) is a bad sample naming file and
line; with ``--skip-bad-samples`` bad rows are skipped and counted, and a run where too many
rows are bad (more than ``--max-bad-sample-fraction``, from the 10th bad row) stops."""

import pytest
from fairseq.tasks import TASK_REGISTRY
from PIL import Image

from unival.data.bad_rows import TooManyBadRowsError
from unival.data.errors import BadSampleError
from unival.data.io.image import encode_image_base64
from unival.tasks.base import UnivalTask
from unival.tasks.caption import CaptionConfig, CaptionTask
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

IMAGE = encode_image_base64(Image.new("RGB", (8, 8), (200, 30, 30)))


@pytest.fixture(scope="module")
def dict_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad_rows") / "dict.txt"
    build_dictionary_from_texts(
        [" what does the image describe?", " a red square"], load_gpt2_bpe(), save_path=path
    )
    return path


def write_rows(path, count, bad_lines=(), stray_tab_lines=()):
    """``count`` caption rows (uniq_id, image_id, caption, labels, image); 1-based ``bad_lines``
    hold undecodable images, ``stray_tab_lines`` a tab inside the caption."""
    rows = []
    for line in range(1, count + 1):
        caption = "a red\tsquare" if line in stray_tab_lines else "a red square"
        image = "%%%not-an-image%%%" if line in bad_lines else IMAGE
        rows.append(f"u{line}\t{line}\t{caption}\tlabels\t{image}\n")
    path.write_text("".join(rows))
    return path


def caption_task(data, dict_path, **overrides):
    cfg = CaptionConfig(
        data=f"{data},{data}",
        dict_path=str(dict_path),
        selected_cols="0,4,2",
        patch_image_size=16,
        **overrides,
    )
    task = CaptionTask.setup_task(cfg)
    task.load_dataset("train")
    return task.datasets["train"]


def test_every_unival_task_reads_its_rows_through_the_column_check():
    tasks = [
        cls
        for cls in TASK_REGISTRY.values()
        if isinstance(cls, type) and issubclass(cls, UnivalTask)
    ]
    assert len(tasks) >= 8
    assert all(cls.load_dataset is UnivalTask.load_dataset for cls in tasks), tasks


def test_a_stray_tab_is_a_bad_sample_naming_file_and_line(tmp_path, dict_path):
    data = write_rows(tmp_path / "train.tsv", 6, stray_tab_lines=(4,))
    dataset = caption_task(data, dict_path)
    assert dataset[2]["uniq_id"] == "u3"
    with pytest.raises(BadSampleError) as caught:
        dataset[
            3
        ]  # selected columns 0,4,2 would read "labels" as the image, "a red" as the caption
    assert str(caught.value).startswith(f"{data}:4: expected 5 tab-separated columns")
    assert "found 6" in str(caught.value)


def test_three_bad_rows_in_200_are_skipped_and_counted(tmp_path, dict_path):
    data = write_rows(tmp_path / "train.tsv", 200, bad_lines=(7, 90), stray_tab_lines=(150,))
    dataset = caption_task(data, dict_path, skip_bad_samples=True)
    samples = [dataset[i] for i in range(len(dataset))]
    skipped = [s for s in samples if "skipped" in s]
    assert [s["id"] for s in skipped] == [6, 89, 149]
    assert skipped[2]["skipped"].startswith(f"{data}:150: expected 5")
    assert dataset.num_skipped == 3 and dataset.bad_row_budget.read == 200
    batch = dataset.collater(samples[:10])
    assert batch["nskipped"] == 1 and batch["nsentences"] == 9


def test_half_the_rows_bad_stops_the_run_with_a_clear_error(tmp_path, dict_path):
    data = write_rows(tmp_path / "train.tsv", 200, bad_lines=range(1, 201, 2))
    dataset = caption_task(data, dict_path, skip_bad_samples=True)
    with pytest.raises(TooManyBadRowsError) as caught:
        for index in range(len(dataset)):
            dataset[index]
    message = str(caught.value)
    assert index == 18  # the 10th bad row (line 19) is the first that may stop the run
    assert message.startswith(f"{data}: 10 of the 19 rows read so far are bad (52.6%")
    assert "--max-bad-sample-fraction limit of 1%" in message and "--selected-cols" in message
    looser = caption_task(data, dict_path, skip_bad_samples=True, max_bad_sample_fraction=0.6)
    assert sum("skipped" in looser[i] for i in range(len(looser))) == 100
