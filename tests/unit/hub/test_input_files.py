"""``unival predict``'s inputs: anything named explicitly gets an item (an error item when it
cannot be read at all); only folders and globs filter by suffix; TSV rows decode one by one."""

import os

from unival.hub.input_files import expand_inputs

SUFFIXES = (".png",)


def test_every_named_input_gets_exactly_one_item(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "empty").mkdir()
    os.symlink(tmp_path / "gone.png", tmp_path / "link.png")
    named = [
        tmp_path / "a.png",
        tmp_path / "notes.txt",
        tmp_path / "folder.png",
        tmp_path / "empty",
        tmp_path / "link.png",
        tmp_path / "missing.png",
    ]
    items = expand_inputs([str(p) for p in named], SUFFIXES)
    assert [item.media for item in items] == [str(p) for p in named]
    errors = [item.error for item in items]
    assert errors[:2] == [None, None]  # an explicit file is tried whatever its suffix
    assert "folder.png is a folder with no .png files" in errors[2]
    assert "empty is a folder with no .png files" in errors[3]
    link, target = tmp_path / "link.png", tmp_path / "gone.png"
    assert errors[4] == f"{link} is a symbolic link to {target}, which does not exist"
    assert errors[5] == f"{tmp_path / 'missing.png'}: no such file, folder or matching pattern"


def test_folders_and_globs_filter_by_suffix_and_say_so(tmp_path, caplog):
    for name in ("b.png", "a.PNG", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    caplog.set_level("INFO")
    items = expand_inputs([str(tmp_path), str(tmp_path / "*")], SUFFIXES)
    assert [os.path.basename(i.media) for i in items] == ["a.PNG", "b.png", "a.PNG", "b.png"]
    assert sum("1 of 3 entries left out" in r.getMessage() for r in caplog.records) == 2


def test_a_tsv_row_that_is_not_utf8_is_an_error_item_and_the_others_stay(tmp_path):
    tsv = tmp_path / "q.tsv"
    tsv.write_bytes(b"a.png\tis it red\nb\xff.png\tis it blue\n\nc.png\n\tno path\n")
    items = expand_inputs([str(tsv)], SUFFIXES)
    assert [(os.path.basename(i.media), i.text) for i in items] == [
        ("a.png", "is it red"),
        ("q.tsv:2", None),
        ("c.png", None),
        ("q.tsv:5", None),
    ]
    assert items[1].error.startswith(f"{tsv}:2: not UTF-8 text")
    assert items[3].error == f"{tsv}:5: the media path (column 1) is empty"
