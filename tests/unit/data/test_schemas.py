"""Named columns of the official TSV layouts (unival.data.schemas.read_rows)."""

import pytest

from unival.data.schemas import CAPTION, VIDEO_VQA, read_rows


def test_rows_come_back_by_column_name_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "caption_test.tsv"
    path.write_text(
        "7\t42\ta red circle&&a circle\tred circle\timg\n\n8\t43\ta square\tsquare\timg2\n"
    )
    rows = read_rows(path, CAPTION)
    assert rows == [
        {
            "uniq_id": "7",
            "image_id": "42",
            "caption": "a red circle&&a circle",
            "object_labels": "red circle",
            "image": "img",
        },
        {
            "uniq_id": "8",
            "image_id": "43",
            "caption": "a square",
            "object_labels": "square",
            "image": "img2",
        },
    ]


def test_a_stray_tab_is_refused_naming_the_file_and_the_row(tmp_path):
    path = tmp_path / "video_qa_train.tsv"
    path.write_text(
        "1\tv1\twhat moves?\t1.0|!+circle\t\tv1.mp4\n2\tv2\twhat\tmoves?\t1.0|!+square\t\tv2.mp4\n"
    )
    with pytest.raises(ValueError, match=r"video_qa_train.tsv row 2: 7 columns, expected 6"):
        read_rows(path, VIDEO_VQA)
