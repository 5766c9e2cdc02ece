#!/usr/bin/env bash
# Image captioning test evaluation (the authors' COCO caption test setting): beam 5, max_len_b 22,
# no-repeat-ngram 3, unnormalised scores, batch 16, P = 480; writes predictions.json and
# scores.json (CIDEr-D, BLEU-4) under RESULTS_DIR.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/caption/eval.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/caption/$RUN_NAME/checkpoint_best.pt (RUN_NAME: caption_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/caption_test.tsv; references joined by "&&"
#   RESULTS_DIR  $UNIVAL_OUT/caption/$RUN_NAME/eval_<test file name>
#   DICT_PATH    (optional) overrides the dictionary path saved in the checkpoint
# Values: BEAM MAX_LEN_B NO_REPEAT_NGRAM_SIZE BATCH_SIZE PATCH_IMAGE_SIZE SELECTED_COLS; DEVICE.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-caption_$ARCH}
BEAM=${BEAM:-5}
MAX_LEN_B=${MAX_LEN_B:-22}
NO_REPEAT_NGRAM_SIZE=${NO_REPEAT_NGRAM_SIZE:-3}
BATCH_SIZE=${BATCH_SIZE:-16}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
SELECTED_COLS=${SELECTED_COLS:-1,4,2}  # the image id is the sample id

path_default TEST_DATA UNIVAL_DATA caption_test.tsv
path_default CHECKPOINT UNIVAL_OUT "caption/$RUN_NAME/checkpoint_best.pt"
test_name=$(basename "$TEST_DATA" .tsv)
path_default RESULTS_DIR UNIVAL_OUT "caption/$RUN_NAME/eval_$test_name"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --selected-cols="$SELECTED_COLS"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --beam="$BEAM"
    --max-len-b="$MAX_LEN_B"
    --no-repeat-ngram-size="$NO_REPEAT_NGRAM_SIZE"
    --unnormalized
    --batch-size="$BATCH_SIZE"
)
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
