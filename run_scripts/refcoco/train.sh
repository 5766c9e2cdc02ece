#!/usr/bin/env bash
# Visual grounding fine-tuning: the RefCOCO / RefCOCO+ / RefCOCOg recipe (the authors' refcoco/unival_refcoco*.sh).
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/refcoco/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/$DATASET/${DATASET}_train.tsv (a comma list of pre-shuffled copies
#                works too); DATASET: refcoco (default), refcocoplus or refcocog
#   VALID_DATA   $UNIVAL_DATA/$DATASET/${DATASET}_val.tsv
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt; "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/refcoco/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO
#   PATCH_IMAGE_SIZE LABEL_SMOOTHING MAX_SRC_LENGTH SELECTED_COLS EVAL_ARGS; DEVICE=cpu for a
#   CPU run. The schedule spans MAX_EPOCH epochs of the training file, counted when training
#   starts (lr scheduler polynomial_decay_warmup_ratio). The model has no video encoder and the
#   checkpoint is loaded non-strictly (--strict is store-false, as in the reference).
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/recipe.sh"

DATASET=${DATASET:-refcoco}
ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-${DATASET}_$ARCH}
recipe_batch 256 8 8  # the reference: 8 GPUs x 8 x update-freq 4
MAX_EPOCH=${MAX_EPOCH:-10}
LR=${LR:-5e-5}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-512}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.1}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
SELECTED_COLS=${SELECTED_COLS:-0,4,2,3}
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"min_len":4,"max_len_a":0,"max_len_b":4}'}

path_default TRAIN_DATA UNIVAL_DATA "$DATASET/${DATASET}_train.tsv"
path_default VALID_DATA UNIVAL_DATA "$DATASET/${DATASET}_val.tsv"
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "refcoco/$RUN_NAME"

TASK_FLAGS=(
    --task=refcoco
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --max-image-size=512
    --max-src-length="$MAX_SRC_LENGTH"
    --eval-acc
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=score
    --maximize-best-checkpoint-metric
)
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

CRITERION_FLAGS=(--criterion=adjust_label_smoothed_cross_entropy --label-smoothing="$LABEL_SMOOTHING")

OPTIM_FLAGS=()
for flag in "${UNIVAL_OPTIM_FLAGS[@]}"; do
    [[ $flag == --lr-scheduler=* ]] || OPTIM_FLAGS+=("$flag")
done
OPTIM_FLAGS+=(--lr-scheduler=polynomial_decay_warmup_ratio --warmup-ratio="$WARMUP_RATIO")

MODEL_FLAGS=(--arch="$ARCH" "${UNIVAL_ARCH_FLAGS[@]}" --video-encoder-name="${VIDEO_ENCODER:-none}")

RUN_FLAGS=(
    --save-dir="$SAVE_DIR"
    --batch-size="$BATCH_SIZE"
    --update-freq="$UPDATE_FREQ"
    --lr="$LR"
    --max-epoch="$MAX_EPOCH"
)
init_or_resume_flags --strict
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
