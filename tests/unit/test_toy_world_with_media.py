"""``toy_world --with-media``: image world + video/audio files, one dictionary covering all."""

from unival.commands.toy_world import main
from unival.tokenizer import UnivalTokenizer


def test_with_media_writes_every_task_and_one_dictionary(tmp_path):
    out = tmp_path / "world"
    assert (
        main(
            [
                "--out",
                str(out),
                "--num-train",
                "2",
                "--num-valid",
                "1",
                "--num-test",
                "1",
                "--with-media",
                "--media-num-train",
                "3",
                "--media-num-valid",
                "2",
                "--media-num-test",
                "2",
                "--video-size",
                "32",
                "--num-frames",
                "4",
            ]
        )
        == 0
    )
    for name in (
        "caption_train.tsv",
        "video_caption_train.tsv",
        "video_qa_valid.tsv",
        "audio_caption_test.tsv",
    ):
        assert (out / name).is_file(), name
    tokenizer = UnivalTokenizer.from_files(out / "dict.txt")
    answers = set((out / "video_qa_answers.txt").read_text().split())
    texts = [" what does the video describe?"]
    for split in ("train", "valid", "test"):
        for line in (out / f"video_qa_{split}.tsv").read_text().splitlines():
            _, _, question, answer, _, path = line.split("\t")
            assert answer.split("|!+")[1] in answers and (out / path).is_file()
            texts += [" " + question, " " + answer.split("|!+")[1]]
        for task in ("video_caption", "audio_caption"):
            for line in (out / f"{task}_{split}.tsv").read_text().splitlines():
                texts += [" " + c for c in line.split("\t")[2].split("&&")]
    for text in texts:  # every word of the media tasks is in dict.txt (no <unk>)
        assert tokenizer.unk not in tokenizer.encode(text).tolist(), text
