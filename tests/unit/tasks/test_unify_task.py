"""unify_task pretraining: per-row examples, auxiliary streams, v1/v2 batches.

Rows are written to tiny TSVs with PNG images (and one mp4) on disk; expected token sequences
are built here from the original prompt strings with the tokenizer, not by the code under test.
"""

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from fairseq.tasks import TASK_REGISTRY
from PIL import Image

from unival.data.modality import Modality
from unival.data.pretrain_objectives import NegativeSamples, best_answer, parse_answers
from unival.tasks.unify_task import UnifyTask, UnifyTaskConfig
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

VOCAB = [
    " what does the image describe? what does the video describe?",
    ' does the image describe " a red square on black "?  yes no',
    ' what is the answer to question " what colour is it ". is " red "? green blue 2 3 4',
    (
        ' which region does the text " the red square " describe?'
        "  what does the region describe? region:"
    ),
    " a dog on grass a cat",
]


def row(uid, media, caption="", question="", refs="", objects="", dataset="coco", kind="caption"):
    return "\t".join([uid, media, caption, question, refs, objects, dataset, kind])


def write_world(root: Path) -> dict:
    img = Image.new("RGB", (60, 40), (0, 0, 0))
    img.paste((220, 20, 20), (10, 8, 30, 28))
    img.save(root / "red.png")
    (root / "neg").mkdir()
    (root / "neg" / "all_captions.txt").write_text("a dog on grass\na cat\n")
    (root / "neg" / "object.txt").write_text("square\ncircle\ndog\n")
    (root / "neg" / "type2ans.json").write_text(
        json.dumps(
            {
                "other": ["red", "green", "blue"],
                "how many": ["2", "3", "4"],
                "color": ["red", "green"],
            }
        )
    )
    main = [
        row("c0", "red.png", "A red square on black", objects="square"),
        row("c1", "red.png", "a red square on black", dataset="cc12m"),
        row("c2", "red.png", "a red square", objects="square"),
    ]
    vqa = [
        row(
            "q0", "red.png", question="What colour is it", refs="0.6|!+green&&1.0|!+red", kind="qa"
        ),
        row("q1", "red.png", question="how many", refs="1.0|!+3", kind="qa"),
    ]
    ground = [row("g0", "red.png", "the red square", refs="10,8,30,28", kind="visual_grounding")]
    files = {"main": main, "vqa": vqa, "ground": ground}
    paths = {}
    for name, rows in files.items():
        paths[name] = root / f"{name}.tsv"
        paths[name].write_text("\n".join(rows) + "\n")
    build_dictionary_from_texts(VOCAB, load_gpt2_bpe(), save_path=root / "dict.txt")
    return paths


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("unify")
    return root, write_world(root)


def make_task(world, **overrides):
    root, paths = world
    cfg = dict(
        data=str(paths["main"]),
        dict_path=str(root / "dict.txt"),
        selected_cols="0,1,2,3,4,5,6,7",
        neg_sample_dir=str(root / "neg"),
        image_dir=str(root),
        patch_image_size=32,
        random_resize_max=40,
        max_image_size=512,
    )
    cfg.update(overrides)
    return UnifyTask.setup_task(UnifyTaskConfig(**cfg))


def ids(task, text):
    return task.tokenizer.encode(text).tolist()


def seq(task, text):
    return [task.tokenizer.bos] + ids(task, text) + [task.tokenizer.eos]


def test_registered_and_accepts_the_released_scripts_flags():
    assert TASK_REGISTRY["unify_task"] is UnifyTask
    cfg = UnifyTaskConfig(
        text_selected_cols="0,1", image_selected_cols="0,1,2", detection_selected_cols="0,1,2"
    )
    assert (cfg.patch_image_size, cfg.max_src_length, cfg.max_tgt_length, cfg.pretrain_seed) == (
        384,
        80,
        30,
        7,
    )
    with pytest.raises(ValueError, match="not part of the UnIVAL recipe"):
        UnifyTask(UnifyTaskConfig(text_data="t.tsv"), tokenizer=None)


def test_epoch_files_and_validation_file():
    task = UnifyTask(UnifyTaskConfig(data="a.tsv,b.tsv,c.tsv"), tokenizer=None)
    assert [task.path_for_split("train", e) for e in (1, 2, 3, 4)] == [
        "a.tsv",
        "b.tsv",
        "c.tsv",
        "a.tsv",
    ]
    assert task.path_for_split("valid") == "c.tsv" and task.has_sharded_data("train")
    other = UnifyTask(UnifyTaskConfig(data="a.tsv", valid_data="v.tsv"), tokenizer=None)
    assert other.path_for_split("valid") == "v.tsv" and not other.has_sharded_data("train")


def test_caption_row_gives_caption_and_itm_examples(world):
    task = make_task(world)
    task.load_dataset("train")
    item = task.dataset("train")[0]
    assert item["video"] == [] and len(item["image"]) == 2
    main, itm = item["image"]
    assert main["source"].tolist() == seq(task, " what does the image describe?")
    assert main["target"].tolist() == ids(task, " a red square on black") + [2]
    assert main["prev_output_tokens"].tolist() == [0] + ids(task, " a red square on black")
    assert main["patch_image"].shape == (3, 32, 32) and main["patch_type"] == int(Modality.IMAGE)
    yes = seq(task, ' does the image describe " a red square on black "?')
    if itm["target"].tolist() == ids(task, " yes") + [2]:
        assert itm["source"].tolist() == yes
    else:
        assert itm["target"].tolist() == ids(task, " no") + [2]
        negatives = [
            ' does the image describe " a red circle on black "?',
            ' does the image describe " a red dog on black "?',
            ' does the image describe " a dog on grass "?',
            ' does the image describe " a cat "?',
        ]
        assert itm["source"].tolist() in [seq(task, n) for n in negatives]


def test_itm_labels_are_balanced_and_negatives_differ(world):
    task = make_task(world)
    task.load_dataset("train")
    dataset = task.dataset("train")
    answers = []
    for epoch in range(1, 41):
        dataset.set_epoch(epoch)
        itm = dataset[0]["image"][1]
        answers.append(task.tokenizer.decode(itm["target"]))
        if answers[-1] == "no":
            assert "a red square on black" not in task.tokenizer.decode(itm["source"])
    assert set(answers) == {"yes", "no"} and 10 <= answers.count("yes") <= 30


def test_cc12m_caption_does_not_train_its_first_two_tokens(world):
    task = make_task(world)
    task.load_dataset("train")
    main = task.dataset("train")[1]["image"][0]
    expected = ids(task, " a red square on black") + [2]
    assert main["target"].tolist() == [1, 1] + expected[2:]


def test_auxiliary_streams_follow_their_counts_and_continue_across_epochs(world):
    root, paths = world
    task = make_task(
        world,
        image_text_vqa_data=str(paths["vqa"]),
        image_text_vqa_cnt=1,
        image_text_ground_data=str(paths["ground"]),
        image_text_ground_cnt=2,
    )
    task.load_dataset("train")
    dataset = task.dataset("train")
    names = [[(name, r) for name, _, r in dataset.rows_of_item(i)] for i in range(3)]
    assert names == [
        [("main", 0), ("vqa", 0), ("ground", 0)],
        [("main", 1), ("vqa", 1)],
        [("main", 2), ("vqa", 0), ("ground", 0)],
    ]
    dataset.set_epoch(
        2
    )  # 3 main rows -> the vqa stream has read 3 rows: epoch 2 starts at row 3 mod 2 = 1
    assert [r for name, _, r in dataset.rows_of_item(0) if name == "vqa"] == [1]
    dataset.set_epoch(1)
    item = dataset[0]
    assert (
        len(item["image"]) == 2 + 2 + 2
    )  # caption + ITM, QA + QA-ITM, grounding + grounded caption


def test_qa_examples(world):
    root, paths = world
    task = make_task(world, image_text_vqa_data=str(paths["vqa"]))
    task.load_dataset("train")
    qa, qa_itm = task.dataset("train")[0]["image"][2:4]
    assert qa["source"].tolist() == seq(task, " what colour is it")  # no "?" added in pretraining
    assert qa["target"].tolist() == ids(task, " red") + [2] and qa["conf"] == 1.0
    text = task.tokenizer.decode(qa_itm["source"])
    assert text.startswith('what is the answer to question " what colour is it ". is "')
    label = task.tokenizer.decode(qa_itm["target"])
    assert (label == "yes") == text.endswith('is " red "?')


def test_grounding_examples_quantise_the_cropped_box(world):
    root, paths = world
    task = make_task(world, image_text_ground_data=str(paths["ground"]))
    task.load_dataset("train")
    grounding, grounded_caption = task.dataset("train")[0]["image"][2:4]
    bins = grounding["target"][:4] - task.tokenizer.bin_offset
    assert grounding["target"][-1] == 2 and ((0 <= bins) & (bins <= round(32 / 512 * 999))).all()
    # the box is 20x20 px; the shorter side (40) is resized to 32..40, so the box spans 16..20 px,
    # i.e. 16/512*999 = 31.2 to 20/512*999 = 39.0 bins, and the crop around its centre keeps
    # it whole
    assert 31 <= int(bins[2] - bins[0]) <= 40 and 31 <= int(bins[3] - bins[1]) <= 40
    assert grounding["source"].tolist() == seq(
        task, ' which region does the text " the red square " describe?'
    )
    prompt = ids(task, "  what does the region describe? region:")
    assert grounded_caption["source"].tolist() == [0] + prompt + grounding["target"][
        :4
    ].tolist() + [2]
    assert grounded_caption["target"].tolist() == ids(task, " the red square") + [2]
    # the drawn red square sits where the bins say: the reddest pixels of the crop lie inside
    # the box
    image = grounding["patch_image"]
    red = (image[0] > 0.5) & (image[1] < -0.5)
    ys, xs = torch.nonzero(red, as_tuple=True)
    box = bins.double() * 512 / 999
    assert (
        xs.min() >= box[0] - 2
        and xs.max() + 1 <= box[2] + 2
        and ys.min() >= box[1] - 2
        and ys.max() + 1 <= box[3] + 2
    )


def test_validation_items_have_only_main_examples_and_no_augmentation(world):
    task = make_task(world, neg_sample_dir=None)
    task.load_dataset("valid")
    item = task.dataset("valid")[0]
    assert len(item["image"]) == 1
    with pytest.raises(ValueError, match="--neg-sample-dir"):
        task.load_dataset("train")


def test_video_rows_go_to_a_second_sub_batch(world, tmp_path):
    from unival.data.io.video import write_video

    root, paths = world
    frames = np.zeros((6, 32, 32, 3), dtype=np.uint8)
    frames[:, 8:24, 8:24] = 200
    write_video(root / "clip.mp4", frames, fps=4)
    video_tsv = tmp_path / "video.tsv"
    video_tsv.write_text(row("v0", "clip.mp4", "a grey square", kind="video_caption") + "\n")
    task = make_task(
        world, video_data=str(video_tsv), video_cnt=2, num_frames=2, patch_frame_size=16
    )
    task.load_dataset("train")
    dataset = task.dataset("train")
    batch = dataset.collater([dataset[0], dataset[1]])
    assert isinstance(batch, list) and len(batch) == 2
    v1, v2 = batch
    assert v1["nsentences"] == 4 and v2["nsentences"] == 2  # video row only at item 0 (cnt 2)
    assert v2["net_input"]["patch_videos"].shape == (2, 3, 2, 16, 16)
    assert v2["net_input"]["patch_types"].tolist() == [int(Modality.VIDEO)] * 2
    assert (
        "patch_images" not in v2["net_input"] and v1["net_input"]["patch_types"].tolist() == [0] * 4
    )
    first = v2["net_input"]["src_tokens"][0]
    assert first[first.ne(1)].tolist() == seq(task, " what does the video describe?")


def test_bad_rows_are_skipped_and_counted(world, tmp_path):
    root, paths = world
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        row("b0", "missing.png", "a caption")
        + "\n"
        + row("b1", "red.png", "x", kind="weird")
        + "\n"
        + row("b2", "red.png", "a red square")
        + "\n"
    )
    strict = make_task(world, data=str(bad))
    strict.load_dataset("train")
    with pytest.raises(ValueError, match="bad.tsv:1 column 1 \\(media\\)"):
        strict.dataset("train")[0]
    task = make_task(world, data=str(bad), skip_bad_samples=True)
    task.load_dataset("train")
    dataset = task.dataset("train")
    batch = dataset.collater([dataset[i] for i in range(3)])
    assert batch["nskipped"] == 2 and batch["nsentences"] == 2
    assert "unknown pretraining type 'weird'" in batch["skipped"][1]


def test_negative_answers_follow_the_rule():
    negatives = NegativeSamples(
        ["a"], ["x"], {"other": ["red", "blue"], "how many": ["2", "3", "4"]}
    )
    rng = random.Random(0)
    drawn = [negatives.negative_answer(rng, "3", 1.0) for _ in range(400)]
    # conf 1 > u + 0.1 unless u >= 0.9: a same-type answer (or 3 +- 1) ~90% of the time,
    # else "other"
    assert set(drawn) <= {"2", "4", "red", "blue"} and "3" not in drawn
    assert 320 <= sum(a in {"2", "4"} for a in drawn) <= 390
    for _ in range(20):
        assert (
            negatives.negative_answer(rng, "red", 0.0) == "blue"
        )  # low confidence: an "other" answer
    assert parse_answers("0.6|!+no&&1.0|!+yes") == {"no": 0.6, "yes": 1.0}
    assert best_answer("0.6|!+no&&1.0|!+yes") == ("yes", 1.0)
    with pytest.raises(ValueError):
        parse_answers("yes")


def caption_images(task, epochs):
    dataset = task.dataset("train")
    images = []
    for epoch in epochs:
        dataset.set_epoch(epoch)
        images.append(dataset[0]["image"][0]["patch_image"])
    return images


def test_augment_ops_choose_randomaugments_ops(world):
    # shorter side 40 -> 32 always (random_resize_max = P): only RandomAugment varies an image
    plain = make_task(world, random_resize_max=32, augment_ops="none")
    plain.load_dataset("train")
    images = caption_images(plain, range(1, 9))
    assert all(torch.equal(images[0], other) for other in images[1:])
    recipe = make_task(world, random_resize_max=32)  # the recipe's ten ops
    recipe.load_dataset("train")
    images = caption_images(recipe, range(1, 9))
    assert not all(torch.equal(images[0], other) for other in images[1:])
    with pytest.raises(ValueError, match="--augment-ops: unknown op"):
        make_task(world, augment_ops="Identity,Solarise")
