"""Video/audio converters on tiny samples in the public formats (MSR-VTT JSON, MSRVTT-QA /
MSVD-QA JSON, AudioCaps CSV, Clotho CSV) with real media files written by PyAV, and
validate_tsv on the results."""

import json
import pickle

import numpy as np
import pytest
from converter_helpers import read_rows

from unival.data.io.audio import write_audio
from unival.data.io.video import write_video


def _video(path, frames=6):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.full((frames, 16, 16, 3), 90, np.uint8), fps=4)


def _audio(path, rate=16000, seconds=0.2):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    write_audio(path, 0.3 * np.sin(2 * np.pi * 440 * t), rate)


# ---------------------------------------------------------------------------------------
# MSR-VTT captions
# ---------------------------------------------------------------------------------------
MSRVTT = {
    "videos": [
        {"video_id": "video0", "id": 0, "split": "train"},
        {"video_id": "video1", "id": 1, "split": "validate"},
        {"video_id": "video2", "id": 2, "split": "test"},
        {"video_id": "video3", "id": 3, "split": "train"},
    ],  # no file on disk
    "sentences": [
        {"video_id": "video0", "caption": "A man\tis Cooking", "sen_id": 10},
        {"video_id": "video0", "caption": "someone cooks", "sen_id": 11},
        {"video_id": "video1", "caption": "a dog runs", "sen_id": 12},
        {"video_id": "video1", "caption": "A Dog is running", "sen_id": 13},
        {"video_id": "video2", "caption": "cars drive", "sen_id": 14},
        {"video_id": "video3", "caption": "lost", "sen_id": 15},
    ],
}


def test_msrvtt_rows_per_split(tmp_path, load_script):
    videos = tmp_path / "videos"
    for i in range(3):
        _video(videos / f"video{i}.mp4")
    (tmp_path / "info.json").write_text(json.dumps(MSRVTT))
    out = tmp_path / "out"
    assert (
        load_script("make_msrvtt_caption_tsv").main(
            [
                "--json",
                str(tmp_path / "info.json"),
                "--video-dir",
                str(videos),
                "--out-dir",
                str(out),
                "--decode",
            ]
        )
        == 0
    )
    assert read_rows(out / "msrvtt_caption_train.tsv") == [
        ["10", "video0", "a man is cooking", "", "video0.mp4"],
        ["11", "video0", "someone cooks", "", "video0.mp4"],
    ]  # video3 has no file: skipped
    assert read_rows(out / "msrvtt_caption_val.tsv") == [
        ["video1", "video1", "a dog runs&&a dog is running", "", "video1.mp4"]
    ]
    assert read_rows(out / "msrvtt_caption_test.tsv") == [
        ["video2", "video2", "cars drive", "", "video2.mp4"]
    ]
    validate = load_script("validate_tsv")
    assert (
        validate.main(
            [
                "--task",
                "video_caption",
                "--image-dir",
                str(videos),
                str(out / "msrvtt_caption_train.tsv"),
                str(out / "msrvtt_caption_val.tsv"),
            ]
        )
        == 0
    )


def test_msrvtt_undecodable_video_is_skipped_with_decode(tmp_path):
    from unival.data.convert.common import ConversionReport
    from unival.data.convert.video_caption import msrvtt_rows

    (tmp_path / "video0.mp4").write_bytes(b"not a video at all")
    report = ConversionReport()
    payload = {"videos": MSRVTT["videos"][:1], "sentences": MSRVTT["sentences"][:1]}
    assert len(list(msrvtt_rows(payload, "train", tmp_path, report=report))) == 1  # exists only
    assert list(msrvtt_rows(payload, "train", tmp_path, decode=True, report=report)) == []
    assert report.skipped["bad video"] == 1


# ---------------------------------------------------------------------------------------
# MSRVTT-QA / MSVD-QA
# ---------------------------------------------------------------------------------------
QA_TRAIN = [
    {"id": 0, "video_id": 7, "question": "what is a man doing?", "answer": "Cook"},
    {"id": 1, "video_id": 7, "question": "who is cooking?", "answer": "man"},
    {"id": 2, "video_id": 8, "question": "what is shown?", "answer": "man"},
    {"id": 3, "video_id": 9, "question": "what runs?", "answer": "dog"},
]
QA_TEST = [
    {"id": 9, "video_id": 8, "question": "who runs?", "answer": "cat"},
    {"id": 10, "video_id": 8, "question": "who cooks?", "answer": "man"},
]


def test_msrvtt_qa_rows_candidates_and_pickle(tmp_path, load_script):
    videos = tmp_path / "videos"
    for i in (7, 8):  # video9 missing
        _video(videos / f"video{i}.mp4")
    (tmp_path / "train.json").write_text(json.dumps(QA_TRAIN))
    (tmp_path / "test.json").write_text(json.dumps(QA_TEST))
    out = tmp_path / "out"
    assert (
        load_script("make_video_qa_tsv").main(
            [
                "--split",
                f"train={tmp_path / 'train.json'}",
                "--split",
                f"test={tmp_path / 'test.json'}",
                "--video-dir",
                str(videos),
                "--out-dir",
                str(out),
                "--top-k",
                "2",
                "--count-from",
                "train",
            ]
        )
        == 0
    )
    # answers counted: man 2, cook 1, dog 1 -> top 2 = man, then cook (A-Z among ties)
    assert (out / "msrvtt_qa_answers.txt").read_text().split() == ["man", "cook"]
    with open(out / "msrvtt_qa_ans2label.pkl", "rb") as f:
        assert pickle.load(f) == {"man": 0, "cook": 1}
    assert read_rows(out / "msrvtt_qa_train.tsv") == [
        ["0", "7", "what is a man doing?", "1.0|!+cook", "", "video7.mp4"],
        ["1", "7", "who is cooking?", "1.0|!+man", "", "video7.mp4"],
        ["2", "8", "what is shown?", "1.0|!+man", "", "video8.mp4"],
    ]  # dog: not a candidate
    assert read_rows(out / "msrvtt_qa_test.tsv") == [
        ["10", "8", "who cooks?", "1.0|!+man", "", "video8.mp4"]
    ]
    assert (
        load_script("validate_tsv").main(
            [
                "--task",
                "video_vqa_gen",
                "--image-dir",
                str(videos),
                "--ans2label",
                str(out / "msrvtt_qa_answers.txt"),
                str(out / "msrvtt_qa_train.tsv"),
            ]
        )
        == 0
    )


def test_msvd_qa_uses_the_youtube_mapping(tmp_path, load_script):
    videos = tmp_path / "YouTubeClips"
    _video(videos / "abc_1_5.avi")
    (tmp_path / "youtube_mapping.txt").write_text("abc_1_5 vid7\nxyz_2_9 vid8\n")
    (tmp_path / "train.json").write_text(json.dumps(QA_TRAIN[:3]))
    out = tmp_path / "out"
    assert (
        load_script("make_video_qa_tsv").main(
            [
                "--split",
                f"train={tmp_path / 'train.json'}",
                "--video-dir",
                str(videos),
                "--out-dir",
                str(out),
                "--prefix",
                "msvd_qa",
                "--youtube-mapping",
                str(tmp_path / "youtube_mapping.txt"),
                "--video-template",
                "{name}.avi",
                "--count-from",
                "train",
            ]
        )
        == 0
    )
    rows = read_rows(out / "msvd_qa_train.tsv")
    assert [r[0] for r in rows] == ["0", "1"] and {r[5] for r in rows} == {
        "abc_1_5.avi"
    }  # vid8's file absent


def test_youtube_mapping_rejects_malformed_lines(tmp_path):
    from unival.data.convert.video_qa import read_youtube_mapping

    (tmp_path / "m.txt").write_text("abc_1_5 7\n")
    with pytest.raises(ValueError, match="m.txt:1"):
        read_youtube_mapping(tmp_path / "m.txt")


# ---------------------------------------------------------------------------------------
# AudioCaps / Clotho
# ---------------------------------------------------------------------------------------
def test_audiocaps_groups_clips_by_youtube_id(tmp_path, load_script):
    audio = tmp_path / "audio"
    _audio(audio / "yt1.wav")
    _audio(audio / "yt2.wav", rate=44100)
    (tmp_path / "val.csv").write_text(
        "audiocap_id,youtube_id,start_time,caption\n"
        '91,yt1,30,A dog barks\n92,yt1,30,"Barking, then silence"\n93,yt2,0,Rain falls\n'
        "94,yt3,10,missing audio\n"
    )
    out = tmp_path / "audiocaps_val.tsv"
    assert (
        load_script("make_audio_caption_tsv").main(
            [
                "--dataset",
                "audiocaps",
                "--csv",
                str(tmp_path / "val.csv"),
                "--split",
                "val",
                "--audio-dir",
                str(audio),
                "--out",
                str(out),
                "--decode",
            ]
        )
        == 0
    )
    assert read_rows(out) == [
        ["yt1", "yt1", "a dog barks&&barking, then silence", "", "yt1.wav"],
        ["yt2", "yt2", "rain falls", "", "yt2.wav"],
    ]
    train = tmp_path / "audiocaps_train.tsv"
    load_script("make_audio_caption_tsv").main(
        [
            "--dataset",
            "audiocaps",
            "--csv",
            str(tmp_path / "val.csv"),
            "--split",
            "train",
            "--audio-dir",
            str(audio),
            "--out",
            str(train),
        ]
    )
    assert [r[0] for r in read_rows(train)] == ["91", "92", "93"]
    assert (
        load_script("validate_tsv").main(
            ["--task", "audio_caption", "--image-dir", str(audio), str(out)]
        )
        == 0
    )


def test_clotho_rows_and_missing_column(tmp_path, load_script):
    audio = tmp_path / "development"
    _audio(audio / "rain on roof.wav")
    (tmp_path / "dev.csv").write_text(
        "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
        "rain on roof.wav,Rain hits a roof.,Water drops,rain,drip drip,a storm\n"
    )
    out = tmp_path / "clotho_train.tsv"
    script = load_script("make_audio_caption_tsv")
    assert (
        script.main(
            [
                "--dataset",
                "clotho",
                "--csv",
                str(tmp_path / "dev.csv"),
                "--split",
                "train",
                "--audio-dir",
                str(audio),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = read_rows(out)
    assert [r[2] for r in rows] == [
        "rain hits a roof.",
        "water drops",
        "rain",
        "drip drip",
        "a storm",
    ]
    assert rows[0][:2] == ["rain on roof_0", "rain on roof"] and rows[0][4] == "rain on roof.wav"
    (tmp_path / "bad.csv").write_text("name,caption_1\nx.wav,y\n")
    with pytest.raises(ValueError, match="missing column"):
        script.main(
            [
                "--dataset",
                "clotho",
                "--csv",
                str(tmp_path / "bad.csv"),
                "--split",
                "val",
                "--audio-dir",
                str(audio),
                "--out",
                str(tmp_path / "x.tsv"),
            ]
        )


def test_validate_reports_undecodable_media(tmp_path, load_script):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....garbage")
    _video(tmp_path / "ok.mp4")
    (tmp_path / "a.tsv").write_text("u1\t1\ta caption\t\tbroken.wav\n")
    (tmp_path / "v.tsv").write_text("u1\t1\ta caption\t\tok.mp4\nu2\t2\tb\t\tgone.mp4\n")
    validate = load_script("validate_tsv")
    assert (
        validate.main(
            ["--task", "audio_caption", "--image-dir", str(tmp_path), str(tmp_path / "a.tsv")]
        )
        == 1
    )
    from unival.data.convert.validate import row_errors
    from unival.data.schemas import SCHEMAS

    errors = list(row_errors(str(tmp_path / "v.tsv"), SCHEMAS["video_caption"], str(tmp_path)))
    assert [(e.line, e.column) for e in errors] == [(2, 4)] and "not found" in str(errors[0])
