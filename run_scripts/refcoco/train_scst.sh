#!/usr/bin/env bash
# Reward fine-tuning for visual grounding, "rewarded soups" (the authors' refcoco/scst scripts): one RL fine-tune per
# box-size bucket, each from the fine-tuned RefCOCO+ model; interpolate them afterwards with
# `unival merge` (run_scripts/merging/interpolate.sh).
#
#   AREA=small UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/refcoco/train_scst.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#
# AREA picks the ground-truth boxes that earn a reward (pixels² of the original image; the
# thresholds are SMALL_MAX=30000 and LARGE_MIN=100000):
#   small (A < SMALL_MAX), medium (SMALL_MAX < A < LARGE_MIN), large (A > LARGE_MIN),
#   small+large, medium+large, medium+small, or all (no filter).
# The area flags are shared with the refcoco task, so validation accuracy ('score') is counted
# on the same bucket.
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/$DATASET/${DATASET}_train.tsv; DATASET: refcocoplus (default),
#                refcoco or refcocog
#   VALID_DATA   $UNIVAL_DATA/$DATASET/${DATASET}_val.tsv
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_OUT/refcoco/${DATASET}_$ARCH/checkpoint_best.pt (refcoco/train.sh's best)
#   SAVE_DIR     $UNIVAL_OUT/refcoco/$RUN_NAME
# Recipe values (the authors' refcoco/scst scripts): ARCH BATCH_SIZE (per process) UPDATE_FREQ
#   (default: from the world size, for their global batch 256; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO
#   PATCH_IMAGE_SIZE MAX_SRC_LENGTH SELECTED_COLS EVAL_ARGS SCST_ARGS ACC_THRESH
#   REWARD_METRIC (acc | iou) LAMBDA_REINFORCE SMALL_MAX LARGE_MIN POS_REWARD NEG_REWARD;
#   DEVICE=cpu for a CPU run.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/recipe.sh"

AREA=${AREA:-small}
DATASET=${DATASET:-refcocoplus}
ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-${DATASET}_scst_${AREA}_$ARCH}
recipe_batch 256 8 8  # the reference: 8 GPUs x 8 x update-freq 4
MAX_EPOCH=${MAX_EPOCH:-10}
LR=${LR:-3e-5}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-512}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
SELECTED_COLS=${SELECTED_COLS:-0,4,2,3}
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"min_len":4,"max_len_a":0,"max_len_b":4}'}
SCST_ARGS=${SCST_ARGS:-'{"beam":5,"min_len":4,"max_len_a":0,"max_len_b":4}'}
ACC_THRESH=${ACC_THRESH:-0.5}
REWARD_METRIC=${REWARD_METRIC:-acc}
LAMBDA_REINFORCE=${LAMBDA_REINFORCE:-5.0}
SMALL_MAX=${SMALL_MAX:-30000}
LARGE_MIN=${LARGE_MIN:-100000}

case $AREA in
    small) AREA_FLAGS=(--max-area-size="$SMALL_MAX") ;;
    large) AREA_FLAGS=(--min-area-size="$LARGE_MIN") ;;
    medium) AREA_FLAGS=(--max-area-size="$SMALL_MAX" --min-area-size="$LARGE_MIN" --medium-area) ;;
    small+large) AREA_FLAGS=(--max-area-size="$SMALL_MAX" --min-area-size="$LARGE_MIN") ;;
    medium+large) AREA_FLAGS=(--max-area-size="$SMALL_MAX" --medium-area) ;;
    medium+small) AREA_FLAGS=(--min-area-size="$LARGE_MIN" --medium-area) ;;
    all) AREA_FLAGS=() ;;
    *) die "AREA must be small, medium, large, small+large, medium+large, medium+small or all (got '$AREA')" ;;
esac

path_default TRAIN_DATA UNIVAL_DATA "$DATASET/${DATASET}_train.tsv"
path_default VALID_DATA UNIVAL_DATA "$DATASET/${DATASET}_val.tsv"
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_OUT "refcoco/${DATASET}_$ARCH/checkpoint_best.pt"
path_default SAVE_DIR UNIVAL_OUT "refcoco/$RUN_NAME"

TASK_FLAGS=(
    --task=refcoco
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --max-image-size=512
    --max-src-length="$MAX_SRC_LENGTH"
    --scst
    --scst-args="$SCST_ARGS"
    --eval-acc
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=score
    --maximize-best-checkpoint-metric
)
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

CRITERION_FLAGS=(
    --criterion=refcoco_scst_reward_criterion
    --acc-thresh="$ACC_THRESH"
    --metric="$REWARD_METRIC"
    --lambda-reinforce="$LAMBDA_REINFORCE"
    "${AREA_FLAGS[@]}"
)
if [[ -n ${POS_REWARD:-} ]]; then CRITERION_FLAGS+=(--pos-reward="$POS_REWARD"); fi
if [[ -n ${NEG_REWARD:-} ]]; then CRITERION_FLAGS+=(--neg-reward="$NEG_REWARD"); fi

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
init_or_resume_flags --strict  # a fresh run keeps only the weights (optimizer, schedule, data position reset)
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
