#!/usr/bin/env bash
# Image captioning fine-tuning: the authors' COCO recipe (their caption/unival_caption_stage_1.sh),
# with the encouraging loss. The reference ran 8 GPUs x 16 samples (global batch 128): the batch
# below keeps that global batch on any world size (see lib/recipe.sh recipe_batch).
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/caption/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#   ONLYLINEAR=1 [ONLYLINEAR_FROM=s1] ... trains only the modality->language connectors (lib/onlylinear.sh).
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/caption_train.tsv (a comma list of pre-shuffled copies works too:
#                epoch e trains on copy (e-1) mod N)
#   VALID_DATA   $UNIVAL_DATA/caption_valid.tsv; references joined by "&&"
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt (the released Stage-2 model);
#                "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/caption/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH changes it) MAX_EPOCH LR WARMUP_RATIO
#   MAX_UPDATE (unset: the epochs decide; set: stop there and decay the rate over it)
#   PATCH_IMAGE_SIZE LABEL_SMOOTHING MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS EVAL_ARGS
#   CRITERION (encouraging | ce) DROP_WORST_RATIO DROP_WORST_AFTER DROP_BEST_RATIO DROP_BEST_AFTER
#   LOG_END FREEZE_EMBEDDINGS(1/0) BEST_METRIC; DEVICE=cpu for a CPU
#   run; shared flags: see lib/common_flags.sh.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/onlylinear.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
onlylinear_defaults caption  # ONLYLINEAR=1: lib/onlylinear.sh
RUN_NAME=${RUN_NAME:-caption_$ARCH}
# the reference: 8 GPUs x 16 x update-freq 1 (onlylinear: x 2)
if [[ ${ONLYLINEAR:-0} == 1 ]]; then recipe_batch 256 8 "$ONLYLINEAR_BATCH"; else recipe_batch 128 8 16; fi
MAX_EPOCH=${MAX_EPOCH:-10}
LR=${LR:-1e-5}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.1}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-20}
SELECTED_COLS=${SELECTED_COLS:-0,4,2}
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"max_len_b":22,"no_repeat_ngram_size":3}'}
DROP_WORST_RATIO=${DROP_WORST_RATIO:-0.05}
DROP_WORST_AFTER=${DROP_WORST_AFTER:-6000}
FREEZE_EMBEDDINGS=${FREEZE_EMBEDDINGS:-1}
BEST_METRIC=${BEST_METRIC:-cider}

path_default TRAIN_DATA UNIVAL_DATA caption_train.tsv
path_default VALID_DATA UNIVAL_DATA caption_valid.tsv
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "caption/$RUN_NAME"
IMAGE_DIR=${IMAGE_DIR:-$(dirname "${TRAIN_DATA%%,*}")}

TASK_FLAGS=(
    --task=caption
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --image-dir="$IMAGE_DIR"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --max-src-length="$MAX_SRC_LENGTH"
    --max-tgt-length="$MAX_TGT_LENGTH"
    --eval-cider
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric="$BEST_METRIC"
    --maximize-best-checkpoint-metric
)
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

recipe_criterion_flags encouraging 1  # the authors' loss; CRITERION=ce: label-smoothed CE

MODEL_FLAGS=(--arch="$ARCH" "${UNIVAL_ARCH_FLAGS[@]}")
MODEL_FLAGS+=("${UNIVAL_ONLYLINEAR_FLAGS[@]}")
if [[ $FREEZE_EMBEDDINGS == 1 ]]; then
    MODEL_FLAGS+=(--freeze-encoder-embedding --freeze-decoder-embedding)
fi

RUN_FLAGS=(
    --save-dir="$SAVE_DIR"
    --batch-size="$BATCH_SIZE"
    --update-freq="$UPDATE_FREQ"
    --lr="$LR"
    --max-epoch="$MAX_EPOCH"
    --warmup-ratio="$WARMUP_RATIO"
)
if [[ -n ${MAX_UPDATE:-} ]]; then RUN_FLAGS+=(--max-update="$MAX_UPDATE" --total-num-update="$MAX_UPDATE"); fi
init_or_resume_flags
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${UNIVAL_OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
