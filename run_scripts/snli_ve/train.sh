#!/usr/bin/env bash
# SNLI-VE fine-tuning: the authors' visual entailment recipe (their snli_ve/unival_snli_ve.sh):
# prev_output prompt, trie constraint masks over {no, yes, maybe}, no label smoothing,
# all-candidate validation once per epoch, checkpoints selected by snli_score, non-strict load;
# 8 GPUs x 8 x update-freq 4 (global batch 256, kept on any world size: lib/recipe.sh).
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/snli_ve/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/snli_ve/snli_ve_train.tsv (a comma list of pre-shuffled copies works too)
#   VALID_DATA   $UNIVAL_DATA/snli_ve/snli_ve_dev.tsv
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt; "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/snli_ve/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO
#   PATCH_IMAGE_SIZE LABEL_SMOOTHING MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS VALID_BATCH_SIZE
#   VALIDATE_INTERVAL_UPDATES (50000 as the authors': an epoch is shorter, so once per epoch)
#   ADD_CAPTION=1 (premise in the prompt: the ratatouille/fusing variant); DEVICE=cpu for a CPU run.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
VALIDATE_INTERVAL_UPDATES=${VALIDATE_INTERVAL_UPDATES:-50000}
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-snli_ve_$ARCH}
recipe_batch 256 8 8  # the reference: 8 GPUs x 8 x update-freq 4
MAX_EPOCH=${MAX_EPOCH:-10}
LR=${LR:-5e-5}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.0}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-20}
SELECTED_COLS=${SELECTED_COLS:-0,2,3,4,5}
VALID_BATCH_SIZE=${VALID_BATCH_SIZE:-20}
ADD_CAPTION=${ADD_CAPTION:-0}

path_default TRAIN_DATA UNIVAL_DATA snli_ve/snli_ve_train.tsv
path_default VALID_DATA UNIVAL_DATA snli_ve/snli_ve_dev.tsv
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "snli_ve/$RUN_NAME"
IMAGE_DIR=${IMAGE_DIR:-$(dirname "${TRAIN_DATA%%,*}")}

TASK_FLAGS=(
    --task=snli_ve
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --image-dir="$IMAGE_DIR"
    --prompt-type=prev_output
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --max-src-length="$MAX_SRC_LENGTH"
    --max-tgt-length="$MAX_TGT_LENGTH"
    --valid-batch-size="$VALID_BATCH_SIZE"
    --best-checkpoint-metric=snli_score
    --maximize-best-checkpoint-metric
)
if [[ $ADD_CAPTION == 1 ]]; then TASK_FLAGS+=(--add-caption); fi
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

CRITERION_FLAGS=(--criterion=adjust_label_smoothed_cross_entropy --label-smoothing="$LABEL_SMOOTHING")

OPTIM_FLAGS=()
for flag in "${UNIVAL_OPTIM_FLAGS[@]}"; do
    [[ $flag == --lr-scheduler=* ]] || OPTIM_FLAGS+=("$flag")
done
OPTIM_FLAGS+=(--lr-scheduler=polynomial_decay_warmup_ratio --warmup-ratio="$WARMUP_RATIO")

MODEL_FLAGS=(--arch="$ARCH" "${UNIVAL_ARCH_FLAGS[@]}")

RUN_FLAGS=(
    --save-dir="$SAVE_DIR"
    --batch-size="$BATCH_SIZE"
    --update-freq="$UPDATE_FREQ"
    --lr="$LR"
    --max-epoch="$MAX_EPOCH"
)
# --strict is store-false: passing it loads non-strictly, as the authors did
init_or_resume_flags --strict
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
