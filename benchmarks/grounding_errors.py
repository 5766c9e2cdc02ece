"""Why does a grounding (RefCOCO) expert miss? An error analysis of its test predictions.

Reads ``unival eval``'s ``predictions.json`` of a ``refcoco`` checkpoint, the test TSV it was
run on (official layout: uniq_id, image_id, text, region, image) and the toy world's scenes
file (every object of every image with its box, colour, size, shape), and reports:

1. per coordinate (x0, y0, x1, y1): mean / median absolute error and bias, in pixels and in
   ``<bin_k>`` steps (the units the model predicts in);
2. where each predicted box lands: on the target, on another object of the scene, or on none
   (IoU >= --thresh);
3. the IoU histogram;
4. collapse and size: distinct predicted boxes, predicted vs true box size, accuracy by the
   target's size and by the quadrant of its centre, and blind baselines (the mean training
   box, the most frequent prediction, a random object of the scene).

The quantisation (``num_bins``, ``max_image_size``, ``patch_image_size``) is read from the
checkpoint's task config (``--checkpoint``) unless given as flags.

    python benchmarks/grounding_errors.py --predictions EVAL/predictions.json \\
        --test-tsv WORLD/refcoco_test.tsv --scenes WORLD/scenes_test.json \\
        [--train-tsv WORLD/refcoco_train.tsv] --checkpoint CKPT [--markdown F] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fairseq_plugins"))

from unival.data.schemas import REFCOCO, read_rows  # noqa: E402
from unival.metrics import grounding_errors as ge  # noqa: E402
from unival.metrics.grounding import box_iou, grounding_hits  # noqa: E402

QUANT_KEYS = ("num_bins", "max_image_size", "patch_image_size")


class InputError(ValueError):
    """Bad input: reported as one line."""


def parse_box(text: str, where: str) -> List[float]:
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"{where}: region {text!r} is not 4 comma-separated numbers") from None
    if len(box) != 4:
        raise InputError(f"{where}: region {text!r} is not 4 comma-separated numbers")
    return box


def quantisation(args) -> Dict[str, int]:
    """num_bins / max_image_size / patch_image_size from the flags, else the checkpoint."""
    given = {k: getattr(args, k) for k in QUANT_KEYS}
    if all(v is not None for v in given.values()):
        return given
    if args.checkpoint is None:
        missing = ", ".join("--" + k.replace("_", "-") for k, v in given.items() if v is None)
        raise InputError(f"give --checkpoint or {missing}")
    from unival.safe_load import safe_torch_load

    state = safe_torch_load(args.checkpoint, map_location="cpu")
    task = (state.get("cfg") or {}).get("task")
    if task is None:
        raise InputError(f"{args.checkpoint}: no task config saved in the checkpoint")
    return {k: int(v if v is not None else task[k]) for k, v in given.items()}


def load_rows(args) -> Dict[str, list]:
    """Join predictions, test rows and scene objects: parallel lists per field."""
    predictions = json.loads(Path(args.predictions).read_text())
    tsv = {r["uniq_id"]: r for r in read_rows(args.test_tsv, REFCOCO)}
    scenes_payload = json.loads(Path(args.scenes).read_text())
    scenes = {str(s.get("image_id", s.get("scene_id"))): s for s in scenes_payload["scenes"]}
    out: Dict[str, list] = {k: [] for k in ("pred", "gt", "others", "scene", "size", "side")}
    for record in predictions:
        uid = str(record["uniq_id"])
        if uid not in tsv:
            raise InputError(f"{args.predictions}: uniq_id {uid} is not in {args.test_tsv}")
        row = tsv[uid]
        gt = parse_box(row["region"], f"{args.test_tsv} uniq_id {uid}")
        if not np.allclose(gt, record["gt"]):
            raise InputError(
                f"uniq_id {uid}: predictions.json's gt {record['gt']} is not the TSV's "
                f"region {gt} (predictions of another file?)"
            )
        scene = scenes.get(row["image_id"])
        if scene is None:
            raise InputError(f"uniq_id {uid}: image {row['image_id']} is not in {args.scenes}")
        objects = scene["objects"]
        matches = [i for i, o in enumerate(objects) if np.allclose(o["box"], gt)]
        if not matches:
            raise InputError(f"uniq_id {uid}: no object of image {row['image_id']} has box {gt}")
        target = objects[matches[0]]
        out["pred"].append(record["box"])
        out["gt"].append(gt)
        out["others"].append([o["box"] for i, o in enumerate(objects) if i != matches[0]])
        out["scene"].append([o["box"] for o in objects])
        out["size"].append(str(target.get("size", "?")))
        out["side"].append(float(scene.get("image_size", scenes_payload.get("image_size"))))
    if not out["pred"]:
        raise InputError(f"{args.predictions}: no predictions")
    return out


def analyse(rows: Dict[str, list], quant: Dict[str, int], thresh: float, train_tsv=None):
    pred, gt = ge.as_array(rows["pred"]), ge.as_array(rows["gt"])
    side = np.asarray(rows["side"])
    scale = ge.bin_scale(
        side, quant["patch_image_size"], quant["max_image_size"], quant["num_bins"]
    )
    pred_bins, gt_bins = ge.to_bins(pred, scale, scale), ge.to_bins(gt, scale, scale)
    ious = box_iou(pred, gt).numpy()
    places = ge.placement(pred, gt, rows["others"], thresh)
    distinct = ge.distinct_boxes(pred)
    top_box = distinct["most_common"][0][0]
    quadrants = [ge.centre_quadrant(b, s, s) for b, s in zip(rows["gt"], rows["side"])]
    result = {
        "n": len(pred),
        "quantisation": {
            **quant,
            "bins_per_pixel": float(np.mean(scale)),
            "highest_reachable_bin": int(np.round(np.max(side * scale))),
        },
        "acc": float(grounding_hits(pred, gt, thresh).double().mean()),
        "miou": float(ious.mean()),
        "thresh": thresh,
        "coordinate_errors_px": ge.coordinate_errors(pred, gt),
        "coordinate_errors_bins": ge.coordinate_errors(pred_bins, gt_bins),
        "placement": ge.fractions(places),
        "iou_histogram": ge.iou_histogram(ious),
        "distinct_boxes": distinct,
        "distinct_bin_tuples": len({tuple(b) for b in pred_bins.tolist()}),
        "sizes": ge.size_summary(pred, gt),
        "by_target_size": ge.grouped_accuracy(pred, gt, rows["size"], thresh),
        "by_target_quadrant": ge.grouped_accuracy(pred, gt, quadrants, thresh),
        "baselines": {
            "random object of the scene": ge.random_object_accuracy(gt, rows["scene"], thresh),
            "most frequent prediction, always": ge.constant_box_accuracy(top_box, gt, thresh),
        },
    }
    if train_tsv is not None:
        train = [
            parse_box(r["region"], f"{train_tsv} uniq_id {r['uniq_id']}")
            for r in read_rows(train_tsv, REFCOCO)
        ]
        # the training images share the test images' side (the toy world's image_size)
        train_bins = ge.to_bins(train, np.mean(scale), np.mean(scale))
        result["training_prior_entropy_nats"] = ge.prior_entropy(train_bins)
        box = ge.mean_box(train)
        distinct_train = np.unique(ge.as_array(train), axis=0)
        best, train_acc = ge.best_constant_box(distinct_train, train, thresh)
        result["best_constant_training_box"] = {"box": best, "train_acc": train_acc}
        result["baselines"]["best constant box (chosen on train), always"] = (
            ge.constant_box_accuracy(best, gt, thresh)
        )
        result["mean_training_box"] = [round(v, 2) for v in box]
        result["baselines"]["mean training box, always"] = ge.constant_box_accuracy(box, gt, thresh)
    return result


def image_use(args, rows: int) -> dict:
    """Teacher-forced on the first ``rows`` test rows: mean NLL (nats) of each box token with
    the row's own image and with the next row's image, and the mean total variation between
    the two bin distributions. A model that localises loses a lot when the image changes;
    one that only learned the training prior of boxes does not notice."""
    import torch
    from fairseq import checkpoint_utils

    overrides = {
        "data": args.test_tsv,
        "selected_cols": ",".join(map(str, REFCOCO.eval_selected_cols)),
    }
    if args.dict_path:
        overrides["dict_path"] = args.dict_path
    if args.patch_image_size:
        overrides["patch_image_size"] = args.patch_image_size
    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [args.checkpoint], arg_overrides=overrides
    )
    model = models[0].eval()
    task.load_dataset("test")
    dataset = task.dataset("test")
    batch = dataset.collater([dataset[i] for i in range(min(rows, len(dataset)))])
    offset, num_bins = task.tokenizer.bin_offset, task.tokenizer.num_bins

    def run(images):
        net_input = {**batch["net_input"], "patch_images": images}
        with torch.no_grad():
            lprobs = model.get_normalized_probs(model(**net_input), log_probs=True)
        nll = -lprobs.gather(-1, batch["target"].unsqueeze(-1)).squeeze(-1)[:, :4]
        return nll.mean(0), lprobs[:, :4, offset : offset + num_bins].exp()

    images = batch["net_input"]["patch_images"]
    own_nll, own = run(images)
    other_nll, other = run(images.roll(1, 0))
    tv = 0.5 * (own - other).abs().sum(-1).mean(0)
    return {
        "rows": int(images.size(0)),
        "nll_own_image": dict(zip(ge.COORDS, own_nll.tolist())),
        "nll_other_image": dict(zip(ge.COORDS, other_nll.tolist())),
        "tv_own_vs_other_image": dict(zip(ge.COORDS, tv.tolist())),
    }


def _f(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}"


def markdown(r: dict) -> str:
    q = r["quantisation"]
    t = f"{r['thresh']:g}"
    lines = [
        f"n = {r['n']} expressions; Acc@{t} {_f(r['acc'], 3)}, mIoU {_f(r['miou'], 3)}. "
        f"Quantisation: {q['num_bins']} bins over max_image_size {q['max_image_size']}, "
        f"image resized to {q['patch_image_size']} px: {_f(q['bins_per_pixel'])} bins per "
        f"original pixel, bins 0..{q['highest_reachable_bin']} reachable.",
        "",
        "| coordinate | mean abs err px | median abs err px | bias px | mean abs err bins "
        "| median abs err bins | bias bins |",
        "|---|---|---|---|---|---|---|",
    ]
    px, bins = r["coordinate_errors_px"], r["coordinate_errors_bins"]
    for c in ge.COORDS:
        a, b = px[c], bins[c]
        lines.append(
            f"| {c} | {_f(a['mean_abs'])} | {_f(a['median_abs'])} | {_f(a['bias'])} | "
            f"{_f(b['mean_abs'])} | {_f(b['median_abs'])} | {_f(b['bias'])} |"
        )
    p = r["placement"]
    lines += [
        "",
        f"| predicted box on (IoU >= {t}) | the target | another object | no object |",
        "|---|---|---|---|",
        f"| share | {_f(p['target'], 3)} | {_f(p['other'], 3)} | {_f(p['none'], 3)} |",
        "",
        "| IoU | " + " | ".join(r["iou_histogram"]) + " |",
        "|---" * (len(r["iou_histogram"]) + 1) + "|",
        "| predictions | " + " | ".join(str(v) for v in r["iou_histogram"].values()) + " |",
        "",
    ]
    d, s = r["distinct_boxes"], r["sizes"]
    common = "; ".join(f"{box} x{n}" for box, n in d["most_common"])
    lines += [
        f"- distinct predicted boxes: {d['distinct']} of {r['n']} ({r['distinct_bin_tuples']} "
        f"distinct bin tuples); most frequent: {common}",
        f"- box size: predicted {_f(s['pred_width'], 1)} x {_f(s['pred_height'], 1)} px on "
        f"average, true {_f(s['gt_width'], 1)} x {_f(s['gt_height'], 1)}; median area ratio "
        f"(pred / true) {_f(s['median_area_ratio'])}",
    ]
    for title, key in (("target size", "by_target_size"), ("target centre", "by_target_quadrant")):
        parts = [
            f"{g} {_f(v['acc'], 3)} (mIoU {_f(v['miou'], 3)}, n {v['n']})"
            for g, v in r[key].items()
        ]
        lines.append(f"- Acc@{t} by {title}: " + "; ".join(parts))
    if "mean_training_box" in r:
        best = r["best_constant_training_box"]
        lines.append(
            f"- mean training box: {r['mean_training_box']}; best constant box on the "
            f"training set: {best['box']} (train Acc@{t} {_f(best['train_acc'], 3)})"
        )
    base = "; ".join(f"{k} {_f(v, 3)}" for k, v in r["baselines"].items())
    lines.append(f"- baselines, Acc@{t}: {base}")
    if "image_use" in r:
        u, prior = r["image_use"], r.get("training_prior_entropy_nats", {})
        lines += [
            "",
            f"Teacher-forced on {u['rows']} test rows (nats per box token):",
            "",
            "| token | NLL, own image | NLL, another row's image | TV(own, other) "
            "| blind training prior |",
            "|---|---|---|---|---|",
        ]
        for c, prior_key in zip(ge.COORDS, ("x0", "y0", "x1|x0", "y1|y0")):
            p = _f(prior[prior_key], 3) if prior_key in prior else "-"
            lines.append(
                f"| {c} | {_f(u['nll_own_image'][c], 3)} | {_f(u['nll_other_image'][c], 3)} "
                f"| {_f(u['tv_own_vs_other_image'][c], 3)} | {p} ({prior_key}) |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictions", required=True, help="unival eval's predictions.json")
    parser.add_argument("--test-tsv", required=True, help="the TSV the predictions are of")
    parser.add_argument("--scenes", required=True, help="scenes json of the same images")
    parser.add_argument("--train-tsv", help="training TSV, for the mean-training-box baseline")
    parser.add_argument("--checkpoint", help="read num_bins / max_image_size / image size here")
    parser.add_argument("--num-bins", type=int)
    parser.add_argument("--max-image-size", type=int)
    parser.add_argument("--patch-image-size", type=int)
    parser.add_argument("--thresh", type=float, default=0.5, help="IoU threshold of a hit")
    parser.add_argument("--markdown", help="also write the markdown report here")
    parser.add_argument("--json", help="write the figures as JSON here")
    parser.add_argument(
        "--image-use-rows",
        type=int,
        default=0,
        help="also run the checkpoint teacher-forced on this many test rows, with their own "
        "and with another row's image (needs --checkpoint; 0: skip)",
    )
    parser.add_argument("--dict-path", help="override the checkpoint's saved dictionary path")
    args = parser.parse_args(argv)
    try:
        rows = load_rows(args)
        result = analyse(rows, quantisation(args), args.thresh, args.train_tsv)
        if args.image_use_rows > 0:
            if args.checkpoint is None:
                raise InputError("--image-use-rows needs --checkpoint")
            result["image_use"] = image_use(args, args.image_use_rows)
    except (InputError, OSError, KeyError, json.JSONDecodeError, ValueError) as error:
        print(f"grounding_errors: error: {error}", file=sys.stderr)
        return 2
    text = markdown(result)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
