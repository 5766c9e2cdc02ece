"""TSVFile: offsets, selected columns, rank slices, bad rows, pickling."""

import pickle

import pytest

from unival.data.errors import BadSampleError
from unival.data.tsv import TSVFile, build_line_index, slice_bounds

ROWS = [
    ["0", "img0", "a cat", "obj", "AAAA"],
    ["1", "img1", "a dög", "obj", "BBBB"],  # non-ASCII: offsets are bytes, not characters
    ["2", "img2", "a bird", "obj", "CCCC"],
    ["3", "img3", "a fish", "obj", "DDDD"],
    ["4", "img4", "a cow", "obj", "EEEE"],
]


def _write(path, rows, trailing_newline=True):
    text = "\n".join("\t".join(r) for r in rows) + ("\n" if trailing_newline else "")
    path.write_text(text, encoding="utf-8")
    return path


def test_line_index_counts_bytes(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_bytes("ab\nü\n\ncd".encode())
    # rows start at bytes 0, 3, 6 ("ü" is 2 bytes), 7; the file is 9 bytes
    assert build_line_index(path).tolist() == [0, 3, 6, 7, 9]
    path.write_bytes(b"ab\ncd\n")
    assert build_line_index(path).tolist() == [0, 3, 6]


def test_random_access_and_selected_cols(tmp_path):
    tsv = TSVFile(_write(tmp_path / "train.tsv", ROWS), selected_cols="0,4,2")
    assert len(tsv) == 5
    row = tsv[1]
    assert list(row) == ["1", "BBBB", "a dög"]
    assert row.line == 2 and row.columns == [0, 4, 2] and row.path.endswith("train.tsv")
    assert list(tsv[4]) == ["4", "EEEE", "a cow"]
    assert list(tsv[0]) == ["0", "AAAA", "a cat"]  # any order
    with pytest.raises(IndexError):
        tsv[5]


def test_last_line_without_newline_and_crlf(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes(b"a\tb\r\nc\td")
    tsv = TSVFile(path)
    assert list(tsv[0]) == ["a", "b"] and list(tsv[1]) == ["c", "d"]


def test_wrong_column_count_names_file_and_line(tmp_path):
    rows = ROWS[:2] + [["2", "img2", "only three"]] + ROWS[3:]
    tsv = TSVFile(_write(tmp_path / "train.tsv", rows), selected_cols=[0, 4, 2], expected_columns=5)
    assert list(tsv[3]) == ["3", "DDDD", "a fish"]
    with pytest.raises(BadSampleError) as info:
        tsv[2]
    assert info.value.line == 3
    assert "train.tsv:3" in str(info.value) and "found 3" in str(info.value)


def test_selected_column_beyond_row(tmp_path):
    tsv = TSVFile(_write(tmp_path / "a.tsv", [["x", "y"]]), selected_cols=[0, 4])
    with pytest.raises(BadSampleError, match=r"a.tsv:1 column 4"):
        tsv[0]


@pytest.mark.parametrize(
    "count,expected",
    [
        (1, [[0, 1, 2, 3, 4]]),
        (2, [[0, 1, 2], [3, 4]]),
        (3, [[0, 1], [2, 3], [4]]),
    ],
)
def test_contiguous_slices(tmp_path, count, expected):
    path = _write(tmp_path / "s.tsv", ROWS)
    got = [[int(r[0]) for r in TSVFile(path, slice_id=k, slice_count=count)] for k in range(count)]
    assert got == expected


def test_slice_bounds_cover_everything_once():
    for n in range(0, 12):
        for k in range(1, 5):
            bounds = [slice_bounds(n, i, k) for i in range(k)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [e - b for b, e in bounds]
            assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError):
        slice_bounds(5, 2, 2)


def test_pickle_round_trip_reopens_lazily(tmp_path):
    tsv = TSVFile(_write(tmp_path / "p.tsv", ROWS), selected_cols="2", slice_id=1, slice_count=2)
    assert list(tsv[0]) == ["a fish"]  # opens the descriptor in this process
    clone = pickle.loads(pickle.dumps(tsv))
    assert clone._fd is None
    assert [list(r) for r in clone] == [["a fish"], ["a cow"]]
    row = pickle.loads(pickle.dumps(clone[1]))
    assert list(row) == ["a cow"] and row.line == 5
    err = pickle.loads(pickle.dumps(BadSampleError("f.tsv", 3, 4, "image", "bad")))
    assert str(err) == "f.tsv:3 column 4 (image): bad"


def test_dataloader_workers_read_rows(tmp_path):
    import torch.utils.data as tud

    tsv = TSVFile(_write(tmp_path / "w.tsv", ROWS), selected_cols=[0])
    tsv[0]
    loader = tud.DataLoader(tsv, batch_size=None, num_workers=2, collate_fn=lambda r: r[0])
    assert sorted(int(x) for x in loader) == [0, 1, 2, 3, 4]
