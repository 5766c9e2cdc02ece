#!/usr/bin/env bash
# Video captioning fine-tuning: the authors' MSR-VTT recipe (their
# caption/video/unival_video_caption_stage_1.sh): 16 frames of 384 px, RandAugment
# (--use-dataaug), lr 1e-5, 20 epochs, the encouraging loss; 8 GPUs x 16 x update-freq 2
# (global batch 256, kept on any world size: lib/recipe.sh recipe_batch).
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/video_caption/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#   ONLYLINEAR=1 [ONLYLINEAR_FROM=s1] ... trains only the modality->language connectors (lib/onlylinear.sh).
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/video_caption/msrvtt_caption_train.tsv (comma list of shuffled copies works)
#   VALID_DATA   $UNIVAL_DATA/video_caption/msrvtt_caption_test.tsv (the reference validates and
#                selects on test 3k; see run_scripts/README.md for why this is kept)
#   VIDEO_DIR    root of the TSV's video paths (default: the folder of the first training file)
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt; "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/video_caption/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO MAX_UPDATE
#   NUM_FRAMES PATCH_FRAME_SIZE PATCH_IMAGE_SIZE SAMPLE_TYPE USE_DATAAUG(1/0) VIDEO_ENCODER
#   LABEL_SMOOTHING MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS EVAL_ARGS CRITERION (encouraging | ce)
#   DROP_WORST_RATIO DROP_WORST_AFTER DROP_BEST_RATIO DROP_BEST_AFTER LOG_END FREEZE_EMBEDDINGS(1/0); DEVICE=cpu for a CPU run; shared flags: lib/common_flags.sh.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/onlylinear.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
onlylinear_defaults video_caption  # ONLYLINEAR=1: lib/onlylinear.sh
RUN_NAME=${RUN_NAME:-video_caption_$ARCH}
# the reference: 8 GPUs x 16 x update-freq 2 (onlylinear: the same)
if [[ ${ONLYLINEAR:-0} == 1 ]]; then recipe_batch 256 8 "$ONLYLINEAR_BATCH"; else recipe_batch 256 8 16; fi
MAX_EPOCH=${MAX_EPOCH:-20}
LR=${LR:-1e-5}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
NUM_FRAMES=${NUM_FRAMES:-16}
PATCH_FRAME_SIZE=${PATCH_FRAME_SIZE:-384}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-384}
SAMPLE_TYPE=${SAMPLE_TYPE:-rand}
USE_DATAAUG=${USE_DATAAUG:-1}
VIDEO_ENCODER=${VIDEO_ENCODER-all_resnext101}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.1}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-20}
SELECTED_COLS=${SELECTED_COLS:-0,4,2}
# the authors' validation generation: beam 5, unnormalized scores, up to 200 tokens
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}'}
DROP_WORST_RATIO=${DROP_WORST_RATIO:-0.05}
DROP_WORST_AFTER=${DROP_WORST_AFTER:-6000}
FREEZE_EMBEDDINGS=${FREEZE_EMBEDDINGS:-1}

path_default TRAIN_DATA UNIVAL_DATA video_caption/msrvtt_caption_train.tsv
path_default VALID_DATA UNIVAL_DATA video_caption/msrvtt_caption_test.tsv
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "video_caption/$RUN_NAME"
VIDEO_DIR=${VIDEO_DIR:-$(dirname "${TRAIN_DATA%%,*}")}

TASK_FLAGS=(
    --task=video_caption
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --image-dir="$VIDEO_DIR"
    --num-frames="$NUM_FRAMES"
    --patch-frame-size="$PATCH_FRAME_SIZE"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --sample-type="$SAMPLE_TYPE"
    --max-src-length="$MAX_SRC_LENGTH"
    --max-tgt-length="$MAX_TGT_LENGTH"
    --eval-cider
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=cider
    --maximize-best-checkpoint-metric
)
if [[ $USE_DATAAUG == 1 ]]; then TASK_FLAGS+=(--use-dataaug); fi
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

recipe_criterion_flags encouraging 1  # the authors' loss; CRITERION=ce: label-smoothed CE

MODEL_FLAGS=(--arch="$ARCH" "${UNIVAL_ARCH_FLAGS[@]}")
MODEL_FLAGS+=("${UNIVAL_ONLYLINEAR_FLAGS[@]}")
if [[ -n $VIDEO_ENCODER ]]; then MODEL_FLAGS+=(--video-encoder-name="$VIDEO_ENCODER"); fi
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
