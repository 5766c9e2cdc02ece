#!/usr/bin/env bash
# Video captioning test evaluation (the authors' video/audio caption evaluation): beam 5, max_len_b 200, no n-gram blocking,
# unnormalised scores, batch 16; the media settings (frames, sizes, audio length) are the ones
# saved in the checkpoint. Writes predictions.json and scores.json (CIDEr-D, BLEU-4) under
# RESULTS_DIR.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/video_caption/eval.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/video_caption/$RUN_NAME/checkpoint_best.pt (RUN_NAME: video_caption_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/video_caption/msrvtt_caption_test.tsv; references joined by "&&"
#   RESULTS_DIR  $UNIVAL_OUT/video_caption/$RUN_NAME/eval_<test file name>
#   MEDIA_DIR, DICT_PATH  (optional) override the media root / dictionary saved in the checkpoint
# Values: BEAM MAX_LEN_B NO_REPEAT_NGRAM_SIZE BATCH_SIZE SELECTED_COLS; DEVICE.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-video_caption_$ARCH}
BEAM=${BEAM:-5}
MAX_LEN_B=${MAX_LEN_B:-200}  # the authors' video/audio caption setting (the generator's default max_len_b, no n-gram blocking)
NO_REPEAT_NGRAM_SIZE=${NO_REPEAT_NGRAM_SIZE:-0}
BATCH_SIZE=${BATCH_SIZE:-16}
SELECTED_COLS=${SELECTED_COLS:-0,4,2}  # uniq_id of val/test rows = the clip id

path_default TEST_DATA UNIVAL_DATA "video_caption/msrvtt_caption_test.tsv"
path_default CHECKPOINT UNIVAL_OUT "video_caption/$RUN_NAME/checkpoint_best.pt"
test_name=$(basename "$TEST_DATA" .tsv)
path_default RESULTS_DIR UNIVAL_OUT "video_caption/$RUN_NAME/eval_$test_name"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --selected-cols="$SELECTED_COLS"
    --beam="$BEAM"
    --max-len-b="$MAX_LEN_B"
    --no-repeat-ngram-size="$NO_REPEAT_NGRAM_SIZE"
    --unnormalized
    --batch-size="$BATCH_SIZE"
)
if [[ -n ${MEDIA_DIR:-} ]]; then EVAL_FLAGS+=(--image-dir="$MEDIA_DIR"); fi
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
