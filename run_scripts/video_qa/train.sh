#!/usr/bin/env bash
# Video QA fine-tuning: the authors' MSRVTT-QA recipe (their vqa/video/unival_video_vqa.sh):
# 8 frames of 384 px without augmentation, answer trie, EMA, beam-search validation, lr 1e-4,
# 35 epochs, the encouraging loss with drop-worst and drop-best; 16 GPUs x 8 x update-freq 2
# (global batch 256, kept on any world size: lib/recipe.sh recipe_batch). MSVD-QA: MAX_EPOCH=40
# and the MSVD TSVs / candidates.
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/video_qa/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#   ONLYLINEAR=1 [ONLYLINEAR_FROM=s1] ... trains only the modality->language connectors (lib/onlylinear.sh).
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/video_qa/msrvtt_qa_train.tsv (comma list of shuffled copies works)
#   VALID_DATA   $UNIVAL_DATA/video_qa/msrvtt_qa_val.tsv (selects the checkpoint; the authors
#                selected on their test split, see run_scripts/README.md)
#   ANS2LABEL    $UNIVAL_DATA/video_qa/msrvtt_qa_ans2label.pkl (pickle answer -> label, or one answer a line)
#   VIDEO_DIR    root of the TSV's video paths (default: the folder of the first training file)
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt; "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/video_qa/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO
#   NUM_FRAMES PATCH_FRAME_SIZE PATCH_IMAGE_SIZE SAMPLE_TYPE USE_DATAAUG(1/0) VIDEO_ENCODER
#   LABEL_SMOOTHING MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS EVAL_ARGS VAL_INFERENCE_TYPE
#   EMA(1/0) EMA_DECAY CRITERION (encouraging | ce) DROP_WORST_RATIO DROP_WORST_AFTER DROP_BEST_RATIO
#   DROP_BEST_AFTER LOG_END FREEZE_EMBEDDINGS(1/0); DEVICE=cpu for a CPU run; shared flags: lib/common_flags.sh.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/onlylinear.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
onlylinear_defaults video_qa  # ONLYLINEAR=1: lib/onlylinear.sh
RUN_NAME=${RUN_NAME:-video_qa_$ARCH}
# the reference: 16 GPUs x 8 x update-freq 2 (onlylinear: the same)
if [[ ${ONLYLINEAR:-0} == 1 ]]; then recipe_batch 256 16 "$ONLYLINEAR_BATCH"; else recipe_batch 256 16 8; fi
MAX_EPOCH=${MAX_EPOCH:-35}
LR=${LR:-1e-4}
WARMUP_RATIO=${WARMUP_RATIO:-0.04}
NUM_FRAMES=${NUM_FRAMES:-8}
PATCH_FRAME_SIZE=${PATCH_FRAME_SIZE:-384}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-384}
SAMPLE_TYPE=${SAMPLE_TYPE:-rand}
USE_DATAAUG=${USE_DATAAUG:-0}
VIDEO_ENCODER=${VIDEO_ENCODER-all_resnext101}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.1}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-30}
SELECTED_COLS=${SELECTED_COLS:-0,5,2,3,4}
VAL_INFERENCE_TYPE=${VAL_INFERENCE_TYPE:-beamsearch}
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}'}
EMA=${EMA:-1}
EMA_DECAY=${EMA_DECAY:-0.9999}
FREEZE_EMBEDDINGS=${FREEZE_EMBEDDINGS:-1}

path_default TRAIN_DATA UNIVAL_DATA video_qa/msrvtt_qa_train.tsv
path_default VALID_DATA UNIVAL_DATA video_qa/msrvtt_qa_val.tsv
path_default ANS2LABEL UNIVAL_DATA video_qa/msrvtt_qa_ans2label.pkl
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "video_qa/$RUN_NAME"
VIDEO_DIR=${VIDEO_DIR:-$(dirname "${TRAIN_DATA%%,*}")}

TASK_FLAGS=(
    --task=video_vqa_gen
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --image-dir="$VIDEO_DIR"
    --ans2label-file="$ANS2LABEL"
    --prompt-type=prev_output
    --num-frames="$NUM_FRAMES"
    --patch-frame-size="$PATCH_FRAME_SIZE"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --sample-type="$SAMPLE_TYPE"
    --max-src-length="$MAX_SRC_LENGTH"
    --max-tgt-length="$MAX_TGT_LENGTH"
    --val-inference-type="$VAL_INFERENCE_TYPE"
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=vqa_score
    --maximize-best-checkpoint-metric
)
if [[ $USE_DATAAUG == 1 ]]; then TASK_FLAGS+=(--use-dataaug); fi
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi
# EMA of the weights from update 0, kept in fp32; validation uses it, as in the authors' recipe
if [[ $EMA == 1 ]]; then
    TASK_FLAGS+=(--uses-ema --store-ema --ema-fp32 --ema-decay="$EMA_DECAY" --ema-start-update=0)
fi

# The authors' loss (trie-masked, as for vqa_gen); CRITERION=ce: label-smoothed CE without
# drop-worst (unless DROP_WORST_RATIO is set)
recipe_criterion_flags encouraging 0

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
init_or_resume_flags
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${UNIVAL_OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
