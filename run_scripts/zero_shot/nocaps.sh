#!/usr/bin/env bash
# Zero-shot NoCaps captioning (the paper's zero-shot evaluation): a COCO-caption (or averaged) checkpoint evaluated on
# NoCaps val, the task built from the command line (--zero-shot: caption task, no patch
# sampling), generation as the caption test (beam 5, max_len_b 22, no-repeat-ngram 3,
# unnormalised); CIDEr-D / BLEU-4 overall and per domain (in-, near-, out-domain) in one run.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/zero_shot/nocaps.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead; data_utils/make_nocaps_tsv.py writes them):
#   CHECKPOINT   $UNIVAL_OUT/caption/$RUN_NAME/checkpoint_best.pt (RUN_NAME: caption_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/nocaps/nocaps_val.tsv
#   DOMAINS      $UNIVAL_DATA/nocaps/nocaps_val_domains.json ({image_id: domain})
#   RESULTS_DIR  $UNIVAL_OUT/zero_shot/nocaps_$RUN_NAME
#   DICT_PATH, BPE_DIR  (optional) override the paths saved in the checkpoint
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
SELECTED_COLS=${SELECTED_COLS:-1,4,2}

path_default TEST_DATA UNIVAL_DATA nocaps/nocaps_val.tsv
path_default DOMAINS UNIVAL_DATA nocaps/nocaps_val_domains.json
path_default CHECKPOINT UNIVAL_OUT "caption/$RUN_NAME/checkpoint_best.pt"
path_default RESULTS_DIR UNIVAL_OUT "zero_shot/nocaps_$RUN_NAME"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --zero-shot
    --task=caption
    --domains="$DOMAINS"
    --selected-cols="$SELECTED_COLS"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --beam="$BEAM"
    --max-len-b="$MAX_LEN_B"
    --no-repeat-ngram-size="$NO_REPEAT_NGRAM_SIZE"
    --unnormalized
    --batch-size="$BATCH_SIZE"
)
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
if [[ -n ${BPE_DIR:-} ]]; then EVAL_FLAGS+=(--bpe-dir="$BPE_DIR"); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
