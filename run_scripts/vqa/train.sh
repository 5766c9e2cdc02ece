#!/usr/bin/env bash
# VQAv2 fine-tuning: the authors' VQA recipe (their vqa/unival_vqa.sh), 16 GPUs x 16
# (global batch 256, kept on any world size: lib/recipe.sh recipe_batch).
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/vqa/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#   ONLYLINEAR=1 [ONLYLINEAR_FROM=s1] ... trains only the modality->language connectors (lib/onlylinear.sh).
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/vqa/vqa_train.tsv (a comma list of pre-shuffled copies works too:
#                epoch e trains on copy (e-1) mod N)
#   VALID_DATA   $UNIVAL_DATA/vqa/vqa_val.tsv
#   ANS2LABEL    $UNIVAL_DATA/vqa/trainval_ans2label.pkl (a pickled dict answer -> label, or a
#                text file with one candidate answer a line)
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt; "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/vqa/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO
#   PATCH_IMAGE_SIZE LABEL_SMOOTHING MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS EVAL_ARGS
#   VAL_INFERENCE_TYPE (beamsearch | allcand) VALID_BATCH_SIZE (candidates per pass, allcand)
#   EMA=1/0 (EMA_DECAY) FREEZE_EMBEDDINGS=1/0; DEVICE=cpu for a CPU run; shared flags: lib/common_flags.sh.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/onlylinear.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
onlylinear_defaults vqa  # ONLYLINEAR=1: lib/onlylinear.sh
RUN_NAME=${RUN_NAME:-vqa_$ARCH}
# the reference: 16 GPUs x 16 x update-freq 1 (onlylinear: x 2)
if [[ ${ONLYLINEAR:-0} == 1 ]]; then recipe_batch 512 16 "$ONLYLINEAR_BATCH"; else recipe_batch 256 16 16; fi
MAX_EPOCH=${MAX_EPOCH:-20}
LR=${LR:-1e-4}
WARMUP_RATIO=${WARMUP_RATIO:-0.04}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.1}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-30}
SELECTED_COLS=${SELECTED_COLS:-0,5,2,3,4}
VAL_INFERENCE_TYPE=${VAL_INFERENCE_TYPE:-beamsearch}
VALID_BATCH_SIZE=${VALID_BATCH_SIZE:-20}
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}'}
EMA=${EMA:-1}
EMA_DECAY=${EMA_DECAY:-0.9999}
FREEZE_EMBEDDINGS=${FREEZE_EMBEDDINGS:-1}

path_default TRAIN_DATA UNIVAL_DATA vqa/vqa_train.tsv
path_default VALID_DATA UNIVAL_DATA vqa/vqa_val.tsv
path_default ANS2LABEL UNIVAL_DATA vqa/trainval_ans2label.pkl
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "vqa/$RUN_NAME"
IMAGE_DIR=${IMAGE_DIR:-$(dirname "${TRAIN_DATA%%,*}")}

TASK_FLAGS=(
    --task=vqa_gen
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --image-dir="$IMAGE_DIR"
    --ans2label-file="$ANS2LABEL"
    --prompt-type=prev_output
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --max-src-length="$MAX_SRC_LENGTH"
    --max-tgt-length="$MAX_TGT_LENGTH"
    --valid-batch-size="$VALID_BATCH_SIZE"
    --val-inference-type="$VAL_INFERENCE_TYPE"
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=vqa_score
    --maximize-best-checkpoint-metric
)
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi
# EMA of the weights from update 0, kept in fp32; validation uses it, as in the authors' recipe
if [[ $EMA == 1 ]]; then
    TASK_FLAGS+=(--uses-ema --store-ema --ema-fp32 --ema-decay="$EMA_DECAY" --ema-start-update=0)
fi

CRITERION_FLAGS=(--criterion=adjust_label_smoothed_cross_entropy --label-smoothing="$LABEL_SMOOTHING")

OPTIM_FLAGS=()
for flag in "${UNIVAL_OPTIM_FLAGS[@]}"; do
    [[ $flag == --lr-scheduler=* ]] || OPTIM_FLAGS+=("$flag")
done
OPTIM_FLAGS+=(--lr-scheduler=polynomial_decay_warmup_ratio --warmup-ratio="$WARMUP_RATIO")

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
)
init_or_resume_flags
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
