"""The dispatcher answers a user error in one line with exit status 2; ``--debug`` and real
bugs keep their traceback. (The real executable is exercised in
tests/e2e/test_user_errors_cli.py.)"""

import pytest

from unival import cli
from unival.models.missing_weights import MissingWeightsError


def _command(monkeypatch, error):
    def run(argv):
        raise error

    monkeypatch.setitem(cli.COMMANDS, "eval", cli.Command("evaluate", run))


@pytest.mark.parametrize(
    "error, line",
    [
        (
            FileNotFoundError(2, "No such file or directory", "gone.pt"),
            "unival eval: [Errno 2] No such file or directory: 'gone.pt'",
        ),
        (
            ValueError("data/test.tsv:3: not a readable image\n(details)"),
            "unival eval: data/test.tsv:3: not a readable image (details)",
        ),
        (
            MissingWeightsError(
                ["decoder.layers.0.fc1.weight", "decoder.layers.0.fc1.bias"], "a.pt"
            ),
            "unival eval: a.pt is missing 2 weight(s) of the model: "
            "decoder.layers.0.fc1.{bias,weight}.",
        ),
    ],
)
def test_a_user_error_is_one_line_and_status_2(monkeypatch, capsys, error, line):
    _command(monkeypatch, error)
    assert cli.main(["eval", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(line)


def test_debug_shows_the_traceback_of_a_user_error(monkeypatch):
    _command(monkeypatch, FileNotFoundError(2, "No such file or directory", "gone.pt"))
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "eval", "x"])
    monkeypatch.setenv("UNIVAL_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        cli.main(["eval", "x"])


def test_a_bug_keeps_its_traceback(monkeypatch):
    _command(monkeypatch, AttributeError("'NoneType' object has no attribute 'size'"))
    with pytest.raises(AttributeError):
        cli.main(["eval", "x"])


def test_a_missing_checkpoint_through_the_real_command(tmp_path, capsys):
    status = cli.main(["export", str(tmp_path / "missing.pt"), str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and err.startswith("unival export: ")
        and str(tmp_path / "missing.pt") in err
    )
