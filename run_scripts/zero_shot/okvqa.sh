#!/usr/bin/env bash
# Zero-shot OK-VQA (spec 8.4): a VQAv2-finetuned (or averaged) checkpoint evaluated on
# okvqa_acc_val.tsv (written by data_utils/make_okvqa_tsv.py). The vqa_gen task is built from the command
# line (--zero-shot), generation is unconstrained (--noconstraints: no answer trie) with no
# decoder prompt (--prompt-type none: the whole generated string is the answer), beam 5; the
# score is the mean VQA soft accuracy precomputed in the TSV. No candidate list is needed;
# ANS2LABEL is passed when set.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/zero_shot/okvqa.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/vqa/$RUN_NAME/checkpoint_best.pt (RUN_NAME: vqa_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/okvqa/okvqa_acc_val.tsv
#   RESULTS_DIR  $UNIVAL_OUT/zero_shot/okvqa_$RUN_NAME
#   ANS2LABEL, DICT_PATH, BPE_DIR  (optional) override the paths saved in the checkpoint
# Values: BEAM MAX_LEN_B BATCH_SIZE PATCH_IMAGE_SIZE SELECTED_COLS PROMPT_TYPE; DEVICE;
#   EMA_EVAL (1/0, default 0: averaged checkpoints have no EMA weights)
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

DATASET=okvqa
ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-vqa_$ARCH}
BEAM=${BEAM:-5}
MAX_LEN_B=${MAX_LEN_B:-200}
BATCH_SIZE=${BATCH_SIZE:-16}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
SELECTED_COLS=${SELECTED_COLS:-0,5,2,3,4}
PROMPT_TYPE=${PROMPT_TYPE:-none}

path_default TEST_DATA UNIVAL_DATA "$DATASET/${DATASET}_acc_val.tsv"
path_default CHECKPOINT UNIVAL_OUT "vqa/$RUN_NAME/checkpoint_best.pt"
path_default RESULTS_DIR UNIVAL_OUT "zero_shot/${DATASET}_$RUN_NAME"

EVAL_FLAGS=(
    --data="$TEST_DATA"
    --results-path="$RESULTS_DIR"
    --zero-shot
    --task=vqa_gen
    --noconstraints
    --prompt-type="$PROMPT_TYPE"
    --selected-cols="$SELECTED_COLS"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --beam="$BEAM"
    --max-len-b="$MAX_LEN_B"
    --no-repeat-ngram-size=0
    --unnormalized
    --temperature=1.0
    --batch-size="$BATCH_SIZE"
)
if [[ -n ${ANS2LABEL:-} ]]; then EVAL_FLAGS+=(--ans2label-file="$ANS2LABEL"); fi
if [[ -n ${DICT_PATH:-} ]]; then EVAL_FLAGS+=(--dict-path="$DICT_PATH"); fi
if [[ -n ${BPE_DIR:-} ]]; then EVAL_FLAGS+=(--bpe-dir="$BPE_DIR"); fi
if [[ ${EMA_EVAL:-0} == 1 ]]; then EVAL_FLAGS+=(--ema-eval); fi
if [[ $DEVICE == cpu ]]; then EVAL_FLAGS+=(--cpu); else EVAL_FLAGS+=(--fp16); fi

launch "$(find_tool unival)" eval "$CHECKPOINT" "${EVAL_FLAGS[@]}" "$@"
