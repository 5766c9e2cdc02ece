"""Which toy-world questions and hypotheses the demo's VQA and SNLI-VE experts get right, by kind.

An expert that answers from the text alone gets the kinds the text decides (SNLI-VE's
neutral "the circle is made of wood") and one answer of each kind the picture decides: it
calls every "there is a <colour> <shape>" true, or every one false. Splitting the test
accuracy by kind and by the true answer shows which it is.

* VQA kinds (the toy world's question kinds): presence ("is there a red circle?", split by
  the true answer), count, colour, position ("what is left of ...?").
* SNLI-VE kinds (the toy world's hypothesis kinds): exists ("there is a ..."), count ("there
  are three shapes"), relation ("the circle is left of the square"), property (everything
  else: the neutral ones), each split by the gold label.

    python benchmarks/answer_kinds.py --demo-dir outputs/demo [--markdown F] [--json F]

reads ``multitask/{vqa,snli_ve}/eval/predictions.json`` and ``toy_world/{vqa,snli_ve}_test.tsv``
of a ``make demo`` run; ``--vqa-predictions`` / ``--snli-predictions`` (with ``--world``)
score other checkpoints' predictions on the same world.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fairseq_plugins"))

from unival.data.schemas import SNLI_VE, VQA, read_rows  # noqa: E402
from unival.data.snli_ve_dataset import label_answer  # noqa: E402
from unival.demo.tasks import answer_of  # noqa: E402
from unival.toy_world.captions import RELATIONS  # noqa: E402

Tally = Dict[str, List[int]]  # kind -> [right, asked]


def vqa_kind(question: str, answer: str) -> str:
    """The toy world's question kind; presence split by the true answer."""
    if question.startswith("is there "):
        return "presence, absent" if answer == "no" else "presence, present"
    for prefix, kind in (
        ("how many ", "count"),
        ("what colour ", "colour"),
        ("what is ", "position"),
    ):
        if question.startswith(prefix):
            return kind
    return "other"


def hypothesis_kind(hypothesis: str) -> str:
    """exists / count / relation / property (the toy world's entailment kinds)."""
    words = hypothesis.split()
    if hypothesis.startswith("there is a "):
        return "exists"
    if len(words) == 4 and words[:2] == ["there", "are"] and words[3] == "shapes":
        return "count"
    if any(f" is {relation} the " in f" {hypothesis} " for relation in RELATIONS):
        return "relation"
    return "property"


def tally(items: Iterable[Tuple[str, bool]]) -> Tally:
    counts: Tally = defaultdict(lambda: [0, 0])
    for kind, right in items:
        counts[kind][0] += int(right)
        counts[kind][1] += 1
    return dict(sorted(counts.items()))


def vqa_kinds(predictions: Path, test_tsv: Path) -> Tally:
    answered = {str(p["question_id"]): p["answer"] for p in json.loads(predictions.read_text())}
    items = []
    for row in read_rows(test_tsv, VQA):
        truth = answer_of(row["answers"])
        if row["question_id"] not in answered:
            raise SystemExit(f"{predictions}: no prediction for question {row['question_id']}")
        items.append((vqa_kind(row["question"], truth), answered[row["question_id"]] == truth))
    return tally(items)


def snli_kinds(predictions: Path, test_tsv: Path) -> Tally:
    answered = {str(p["uniq_id"]): p["answer"] for p in json.loads(predictions.read_text())}
    items = []
    for row in read_rows(test_tsv, SNLI_VE):
        if row["uniq_id"] not in answered:
            raise SystemExit(f"{predictions}: no prediction for row {row['uniq_id']}")
        kind = f"{hypothesis_kind(row['hypothesis'])}, {row['label']}"
        items.append((kind, answered[row["uniq_id"]] == label_answer(row["label"])))
    return tally(items)


def markdown(title: str, counts: Tally) -> str:
    lines = [f"| {title} | right / asked | accuracy |", "|---|---|---|"]
    for kind, (right, asked) in counts.items():
        lines.append(f"| {kind} | {right} / {asked} | {right / asked:.3f} |")
    right, asked = (sum(c[i] for c in counts.values()) for i in (0, 1))
    lines.append(f"| all | {right} / {asked} | {right / max(asked, 1):.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-dir", type=Path, help="a make demo --out folder")
    parser.add_argument("--world", type=Path, help="the toy world (default: DEMO_DIR/toy_world)")
    parser.add_argument("--vqa-predictions", type=Path)
    parser.add_argument("--snli-predictions", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    world = args.world or (args.demo_dir / "toy_world" if args.demo_dir else None)
    if world is None:
        parser.error("give --demo-dir, or --world with the predictions")
    vqa = args.vqa_predictions or (
        args.demo_dir and args.demo_dir / "multitask/vqa/eval/predictions.json"
    )
    snli = args.snli_predictions or (
        args.demo_dir and args.demo_dir / "multitask/snli_ve/eval/predictions.json"
    )
    result, tables = {}, []
    for name, predictions, score, title in (
        ("vqa", vqa, vqa_kinds, "VQA question kind"),
        ("snli_ve", snli, snli_kinds, "SNLI-VE hypothesis kind, label"),
    ):
        if predictions is None:
            continue
        if not Path(predictions).is_file():
            raise SystemExit(f"{predictions}: no such predictions file")
        result[name] = score(Path(predictions), world / f"{name}_test.tsv")
        tables.append(markdown(title, result[name]))
    text = "\n\n".join(tables)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
