#!/usr/bin/env bash
# VQA test evaluation (the authors' VQA evaluation): trie-constrained beam search with the question as
# forced prefix (beam 5, unnormalised scores, no n-gram blocking), or all-candidate scoring with
# INFERENCE=allcand; writes predictions.json ([{question_id, answer}], the evaluation server's
# format) and scores.json (vqa_score: mean reference confidence of the answers) under RESULTS_DIR.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/vqa/eval.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/vqa/$RUN_NAME/checkpoint_best.pt (RUN_NAME: vqa_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/vqa/vqa_$SPLIT.tsv (SPLIT: val, test, ...)
#   RESULTS_DIR  $UNIVAL_OUT/vqa/$RUN_NAME/eval_<test file name>
#   ANS2LABEL, DICT_PATH  (optional) override the paths saved in the checkpoint
# Values: INFERENCE (beamsearch | allcand) BEAM BATCH_SIZE PATCH_IMAGE_SIZE SELECTED_COLS; DEVICE. EMA_EVAL(1/0, default 1)
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

SPLIT=${SPLIT:-val}
ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-vqa_$ARCH}
INFERENCE=${INFERENCE:-beamsearch}
BEAM=${BEAM:-5}
BATCH_SIZE=${BATCH_SIZE:-16}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
SELECTED_COLS=${SELECTED_COLS:-0,5,2,3,4}

path_default TEST_DATA UNIVAL_DATA "vqa/vqa_$SPLIT.tsv"
path_default CHECKPOINT UNIVAL_OUT "vqa/$RUN_NAME/checkpoint_best.pt"
test_name=$(basename "$TEST_DATA" .tsv)
path_default RESULTS_DIR UNIVAL_OUT "vqa/$RUN_NAME/eval_$test_name"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --selected-cols="$SELECTED_COLS"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --val-inference-type="$INFERENCE"
    --beam="$BEAM"
    --max-len-b=200
    --no-repeat-ngram-size=0
    --unnormalized
    --temperature=1.0
    --batch-size="$BATCH_SIZE"
)
if [[ -n ${ANS2LABEL:-} ]]; then EVAL_FLAGS+=(--ans2label-file="$ANS2LABEL"); fi
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
# the EMA weights train.sh stores (EMA=1) are the ones evaluated, as the authors did; EMA_EVAL=0 for the raw weights
if [[ ${EMA_EVAL:-1} == 1 ]]; then EVAL_FLAGS+=(--ema-eval); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
