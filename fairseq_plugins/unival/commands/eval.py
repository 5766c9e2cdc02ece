"""``unival eval``: evaluate a checkpoint on a TSV with its task.

    unival eval CHECKPOINT --data test.tsv --results-path DIR \\
        [--gen-subset test] [--beam 5 --max-len-b 22 --no-repeat-ngram-size 3]
        [--batch-size 16] [--ema-eval]

Writes ``DIR/predictions.json`` and ``DIR/scores.json`` and prints the metric table
(:func:`unival.evaluation.run.evaluate` says what each task writes). Generation takes the
task's settings of :data:`unival.hub.generation.GENERATION_DEFAULTS`, each flag given
overriding one. ``--metric chair|pope|probe`` and ``--domains`` add probe scores
(:mod:`unival.evaluation.probe_metrics`); ``--zero-shot`` evaluates a task the checkpoint was
not fine-tuned on (:mod:`unival.evaluation.loading`).
"""

import logging
import sys
from typing import Optional, Sequence

from unival.evaluation.options import build_parser, check_arguments
from unival.evaluation.run import evaluate


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    check_arguments(args)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
            stream=sys.stderr,
        )
    evaluate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
