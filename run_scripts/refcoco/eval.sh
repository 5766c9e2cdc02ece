#!/usr/bin/env bash
# Visual grounding test evaluation (the authors' RefCOCO evaluation): beam 5, exactly 4 bin
# tokens, no-repeat-ngram 3; writes predictions.json (boxes in original pixels) and scores.json
# (Acc@ACC_THRESH, size breakdowns, mean IoU) under RESULTS_DIR.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/refcoco/eval.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/refcoco/$RUN_NAME/checkpoint_best.pt (RUN_NAME: ${DATASET}_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/$DATASET/${DATASET}_$SPLIT.tsv (SPLIT: val, testA, testB for refcoco
#                and refcocoplus, default testA; val, test for refcocog, default test)
#   RESULTS_DIR  $UNIVAL_OUT/refcoco/$RUN_NAME/eval_<test file name>
#   DICT_PATH    (optional) overrides the dictionary path saved in the checkpoint
# Values: BEAM NO_REPEAT_NGRAM_SIZE BATCH_SIZE PATCH_IMAGE_SIZE SELECTED_COLS ACC_THRESH (comma list)
#   MIN_AREA_SIZE MAX_AREA_SIZE MEDIUM_AREA=1 (size-restricted accuracy, as the reward fine-tunes
#   of refcoco/train_scst.sh count it); DEVICE.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

DATASET=${DATASET:-refcoco}
# RefCOCOg (umd split) has val and test only; RefCOCO and RefCOCO+ report testA and testB
if [[ $DATASET == refcocog ]]; then SPLIT=${SPLIT:-test}; else SPLIT=${SPLIT:-testA}; fi
case $DATASET:$SPLIT in
    refcocog:testA | refcocog:testB) die "RefCOCOg has no $SPLIT split: use SPLIT=val or SPLIT=test" ;;
esac
ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-${DATASET}_$ARCH}
BEAM=${BEAM:-5}
NO_REPEAT_NGRAM_SIZE=${NO_REPEAT_NGRAM_SIZE:-3}
BATCH_SIZE=${BATCH_SIZE:-16}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-512}
SELECTED_COLS=${SELECTED_COLS:-0,4,2,3}
ACC_THRESH=${ACC_THRESH:-0.5}

path_default TEST_DATA UNIVAL_DATA "$DATASET/${DATASET}_$SPLIT.tsv"
path_default CHECKPOINT UNIVAL_OUT "refcoco/$RUN_NAME/checkpoint_best.pt"
test_name=$(basename "$TEST_DATA" .tsv)
path_default RESULTS_DIR UNIVAL_OUT "refcoco/$RUN_NAME/eval_$test_name"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --selected-cols="$SELECTED_COLS"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --beam="$BEAM"
    --min-len=4
    --max-len-a=0
    --max-len-b=4
    --no-repeat-ngram-size="$NO_REPEAT_NGRAM_SIZE"
    --batch-size="$BATCH_SIZE"
    --acc-thresh="$ACC_THRESH"
)
if [[ -n ${MIN_AREA_SIZE:-} ]]; then EVAL_FLAGS+=(--min-area-size="$MIN_AREA_SIZE"); fi
if [[ -n ${MAX_AREA_SIZE:-} ]]; then EVAL_FLAGS+=(--max-area-size="$MAX_AREA_SIZE"); fi
if [[ ${MEDIUM_AREA:-0} == 1 ]]; then EVAL_FLAGS+=(--medium-area); fi
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
