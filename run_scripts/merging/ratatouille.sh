#!/usr/bin/env bash
# Ratatouille fine-tuning (as in the paper): re-fine-tune each auxiliary-task model on the TARGET task
# with TARGET's own train.sh (the auxiliary model as INIT_CHECKPOINT), then average the
# re-fine-tuned models and TARGET's own expert uniformly (`unival merge average`), then
# evaluate the average with TARGET's eval.sh.
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/merging/ratatouille.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the commands (trainings, merge, evaluation; one a line) instead of running them.
#
# Trailing arguments and EXTRA_ARGS go to every fine-tuning command (TARGET's train.sh, which
# also reads its own variables: TRAIN_DATA, VALID_DATA, LR, MAX_EPOCH, ...; the SNLI-VE recipe
# of the paper adds --add-caption). Settings:
#   TARGET         recipe to fine-tune on (default caption; see lib/merging.sh for recipes)
#   AUXILIARY      recipe list RECIPE[=CHECKPOINT] ... of the auxiliary experts, default (when
#                  unset) the other three of "caption vqa refcoco snli_ve"
#   TARGET_EXPERT  the model fine-tuned directly on TARGET (default: TARGET's train.sh
#                  checkpoint under $UNIVAL_OUT); "none" averages the re-fine-tuned models only
#   OUT_DIR        $UNIVAL_OUT/merging/ratatouille/${TARGET}_$ARCH: init_<aux>/ (one training
#                  per auxiliary model), ratatouille.pt (the average), eval_ratatouille/
#   MERGE_ARGS     options for `unival merge average`, one shell-quoted string (e.g. --ema --force)
#   EVALUATE       1 (default) evaluates the average with TARGET's eval.sh (TEST_DATA, ... as
#                  there); 0 skips it
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"
source "$LIB/merging.sh"

ARCH=${ARCH:-unival_base}
TARGET=${TARGET:-caption}
recipe_of "$TARGET" >/dev/null
AUXILIARY=${AUXILIARY-$(for r in caption vqa refcoco snli_ve; do [[ $r == "$TARGET" ]] || printf '%s ' "$r"; done)}
TARGET_EXPERT=${TARGET_EXPERT:-$(recipe_checkpoint "$TARGET")}
path_default OUT_DIR UNIVAL_OUT "merging/ratatouille/${TARGET}_$ARCH"
MERGE_ARGS=${MERGE_ARGS:-}
EVALUATE=${EVALUATE:-1}
UNIVAL_TOOL=$(find_tool unival)  # found before any step runs

ratatouille() {
    local -a models=()
    local item recipe init
    if [[ $TARGET_EXPERT != none ]]; then models+=("$TARGET_EXPERT"); fi
    for item in $AUXILIARY; do
        recipe=$(recipe_of "$item")
        init=$(recipe_checkpoint "$item")
        INIT_CHECKPOINT=$init SAVE_DIR=$OUT_DIR/init_$recipe run_recipe "$TARGET" train "$@"
        models+=("$OUT_DIR/init_$recipe/checkpoint_best.pt")
    done
    ((${#models[@]} >= 2)) || die "nothing to average: AUXILIARY='$AUXILIARY', TARGET_EXPERT=$TARGET_EXPERT"
    EXTRA_ARGS=$MERGE_ARGS run_step "$UNIVAL_TOOL" merge average "${models[@]}" \
        --out="$OUT_DIR/ratatouille.pt"
    if [[ $EVALUATE == 1 ]]; then
        # a merged checkpoint holds one set of weights: no --ema-eval
        EXTRA_ARGS='' EMA_EVAL=0 CHECKPOINT=$OUT_DIR/ratatouille.pt \
            RESULTS_DIR=$OUT_DIR/eval_ratatouille run_recipe "$TARGET" eval
    fi
}

plan_then_run ratatouille "$@"
