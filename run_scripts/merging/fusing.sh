#!/usr/bin/env bash
# Fusing fine-tuning (as in the paper): average the task experts of MODELS uniformly (`unival merge
# average`), fine-tune that average on the TARGET task with TARGET's own train.sh (the average
# as INIT_CHECKPOINT), then evaluate the result with TARGET's eval.sh.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/merging/fusing.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the commands (merge, training, evaluation; one a line) instead of running them.
#
# Trailing arguments and EXTRA_ARGS go to the fine-tuning command (TARGET's train.sh, which also
# reads its own variables: TRAIN_DATA, VALID_DATA, LR, MAX_EPOCH, ...). Settings:
#   TARGET      recipe to fine-tune on (default caption; see lib/merging.sh for recipes)
#   MODELS      recipe list RECIPE[=CHECKPOINT] ... averaged first, default
#               "caption vqa refcoco snli_ve" (the paper's avg_caprefsnlivqa)
#   OUT_DIR     $UNIVAL_OUT/merging/fusing/${TARGET}_$ARCH: average.pt, the training in
#               finetune/, its evaluation in finetune/eval_fused/
#   MERGE_ARGS  options for `unival merge average`, one shell-quoted string (e.g. --ema --force)
#   EVALUATE    1 (default) evaluates finetune/checkpoint_best.pt with TARGET's eval.sh; 0 skips it
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"
source "$LIB/merging.sh"

ARCH=${ARCH:-unival_base}
TARGET=${TARGET:-caption}
recipe_of "$TARGET" >/dev/null
MODELS=${MODELS:-caption vqa refcoco snli_ve}
path_default OUT_DIR UNIVAL_OUT "merging/fusing/${TARGET}_$ARCH"
MERGE_ARGS=${MERGE_ARGS:-}
EVALUATE=${EVALUATE:-1}
UNIVAL_TOOL=$(find_tool unival)  # found before any step runs

fusing() {
    local -a models=()
    local item ckpt
    for item in $MODELS; do
        ckpt=$(recipe_checkpoint "$item")
        models+=("$ckpt")
    done
    ((${#models[@]} >= 2)) || die "MODELS needs at least two models to average (got '$MODELS')"
    EXTRA_ARGS=$MERGE_ARGS run_step "$UNIVAL_TOOL" merge average "${models[@]}" \
        --out="$OUT_DIR/average.pt"
    INIT_CHECKPOINT=$OUT_DIR/average.pt SAVE_DIR=$OUT_DIR/finetune run_recipe "$TARGET" train "$@"
    if [[ $EVALUATE == 1 ]]; then
        EXTRA_ARGS='' CHECKPOINT=$OUT_DIR/finetune/checkpoint_best.pt \
            RESULTS_DIR=$OUT_DIR/finetune/eval_fused run_recipe "$TARGET" eval
    fi
}

plan_then_run fusing "$@"
