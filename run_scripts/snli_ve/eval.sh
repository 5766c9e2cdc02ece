#!/usr/bin/env bash
# SNLI-VE test evaluation (as the authors evaluate it): all-candidate scoring over {no, yes, maybe}; writes
# predictions.json ([{uniq_id, answer, label, correct}]) and scores.json (snli_score: accuracy)
# under RESULTS_DIR.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/snli_ve/eval.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/snli_ve/$RUN_NAME/checkpoint_best.pt (RUN_NAME: snli_ve_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/snli_ve/snli_ve_$SPLIT.tsv (SPLIT: test, dev)
#   RESULTS_DIR  $UNIVAL_OUT/snli_ve/$RUN_NAME/eval_<test file name>
#   DICT_PATH    (optional) overrides the dictionary path saved in the checkpoint
# Values: BATCH_SIZE PATCH_IMAGE_SIZE SELECTED_COLS; DEVICE.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

SPLIT=${SPLIT:-test}
ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-snli_ve_$ARCH}
BATCH_SIZE=${BATCH_SIZE:-16}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
SELECTED_COLS=${SELECTED_COLS:-0,2,3,4,5}

path_default TEST_DATA UNIVAL_DATA "snli_ve/snli_ve_$SPLIT.tsv"
path_default CHECKPOINT UNIVAL_OUT "snli_ve/$RUN_NAME/checkpoint_best.pt"
test_name=$(basename "$TEST_DATA" .tsv)
path_default RESULTS_DIR UNIVAL_OUT "snli_ve/$RUN_NAME/eval_$test_name"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --selected-cols="$SELECTED_COLS"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --batch-size="$BATCH_SIZE"
)
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
