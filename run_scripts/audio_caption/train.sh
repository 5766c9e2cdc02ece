#!/usr/bin/env bash
# Audio captioning fine-tuning: the authors' AudioCaps recipe (their
# caption/audio/unival_audio_caption.sh): 10 s waveforms (480000 samples at the file's rate), the
# PANN CNN14 encoder (64 mel bins, hop 200: 150 tokens) added to the Stage-2 model and started
# from its AudioSet weights, lr 1e-4, 25 epochs, the encouraging loss; 8 GPUs x
# 8 x update-freq 2 (global batch 128, kept on any world size: lib/recipe.sh recipe_batch).
# Clotho: LR=5e-5 BATCH_SIZE=16 UPDATE_FREQ=1 (x 8 GPUs) and the Clotho TSVs.
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/audio_caption/train.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#   ONLYLINEAR=1 [ONLYLINEAR_FROM=s1] ... trains only the modality->language connectors (lib/onlylinear.sh).
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/audio_caption/audiocaps_train.tsv (comma list of shuffled copies works)
#   VALID_DATA   $UNIVAL_DATA/audio_caption/audiocaps_test.tsv (the reference validates on test)
#   AUDIO_DIR    root of the TSV's audio paths (default: the folder of the first training file)
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   AUDIO_MODEL_PATH  required: the PANN AudioSet weights Cnn14_mAP=0.431.pth for the new audio
#                encoder (unival_s2_hs has no audio encoder); "none" trains it from random weights
#   INIT_CHECKPOINT  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt; "scratch" trains from initial weights
#   SAVE_DIR     $UNIVAL_OUT/audio_caption/$RUN_NAME
# Recipe values (official defaults): ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the
#   world size, for the reference's global batch; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO MAX_UPDATE
#   MAX_AUDIO_LEN AUDIO_SAMPLE_RATE (empty: each file's own rate; a number: resample to it)
#   AUDIO_ENCODER MEL_BINS HOP_SIZE SPEC_AUGMENT(1/0; 0 for clips of a few seconds) PATCH_IMAGE_SIZE LABEL_SMOOTHING
#   MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS EVAL_ARGS CRITERION (encouraging | ce) DROP_WORST_RATIO
#   DROP_WORST_AFTER DROP_BEST_RATIO DROP_BEST_AFTER LOG_END FREEZE_EMBEDDINGS(1/0); DEVICE=cpu for a CPU run; shared flags: lib/common_flags.sh.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/onlylinear.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
onlylinear_defaults audio_caption  # ONLYLINEAR=1: lib/onlylinear.sh
RUN_NAME=${RUN_NAME:-audio_caption_$ARCH}
# the reference: 8 GPUs x 8 x update-freq 2 (onlylinear: the same)
if [[ ${ONLYLINEAR:-0} == 1 ]]; then recipe_batch 128 8 "$ONLYLINEAR_BATCH"; else recipe_batch 128 8 8; fi
MAX_EPOCH=${MAX_EPOCH:-25}
LR=${LR:-1e-4}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
MAX_AUDIO_LEN=${MAX_AUDIO_LEN:-480000}
AUDIO_SAMPLE_RATE=${AUDIO_SAMPLE_RATE:-}
AUDIO_ENCODER=${AUDIO_ENCODER:-pann_cnn14}
MEL_BINS=${MEL_BINS:-64}
HOP_SIZE=${HOP_SIZE:-200}
SPEC_AUGMENT=${SPEC_AUGMENT:-1}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-384}
LABEL_SMOOTHING=${LABEL_SMOOTHING:-0.1}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-20}
SELECTED_COLS=${SELECTED_COLS:-0,4,2}
# the authors' validation generation: beam 5, unnormalized scores, up to 200 tokens
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}'}
DROP_WORST_RATIO=${DROP_WORST_RATIO:-0.05}
DROP_WORST_AFTER=${DROP_WORST_AFTER:-6000}
FREEZE_EMBEDDINGS=${FREEZE_EMBEDDINGS:-1}

path_default TRAIN_DATA UNIVAL_DATA audio_caption/audiocaps_train.tsv
path_default VALID_DATA UNIVAL_DATA audio_caption/audiocaps_test.tsv
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
path_default SAVE_DIR UNIVAL_OUT "audio_caption/$RUN_NAME"
AUDIO_DIR=${AUDIO_DIR:-$(dirname "${TRAIN_DATA%%,*}")}

TASK_FLAGS=(
    --task=audio_caption
    --selected-cols="$SELECTED_COLS"
    --dict-path="$DICT_PATH"
    --image-dir="$AUDIO_DIR"
    --max-audio-len="$MAX_AUDIO_LEN"
    --patch-image-size="$PATCH_IMAGE_SIZE"
    --max-src-length="$MAX_SRC_LENGTH"
    --max-tgt-length="$MAX_TGT_LENGTH"
    --eval-cider
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=cider
    --maximize-best-checkpoint-metric
)
if [[ -n $AUDIO_SAMPLE_RATE ]]; then TASK_FLAGS+=(--audio-sample-rate --sample-rate="$AUDIO_SAMPLE_RATE"); fi
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

recipe_criterion_flags encouraging 1  # the authors' loss; CRITERION=ce: label-smoothed CE

MODEL_FLAGS=(--arch="$ARCH" "${UNIVAL_ARCH_FLAGS[@]}" --audio-encoder-name="$AUDIO_ENCODER"
             --mel-bins="$MEL_BINS" --hop-size="$HOP_SIZE")
if [[ $SPEC_AUGMENT == 0 ]]; then MODEL_FLAGS+=(--no-audio-spec-augment); fi
MODEL_FLAGS+=("${UNIVAL_ONLYLINEAR_FLAGS[@]}")
# the Stage-2 model has no audio encoder: the authors start CNN14 from its AudioSet weights
if [[ $AUDIO_ENCODER == pann_cnn14 ]]; then
    backbone_weights AUDIO_MODEL_PATH audio-model-path "Cnn14_mAP=0.431.pth" "PANN CNN14 audio encoder (AudioSet)"
    MODEL_FLAGS+=("${BACKBONE_FLAGS[@]}")
elif [[ -n ${AUDIO_MODEL_PATH:-} && $AUDIO_MODEL_PATH != none ]]; then
    MODEL_FLAGS+=(--audio-model-path="$AUDIO_MODEL_PATH")
fi
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
# Strict load (the authors loaded non-strictly): the Stage-2 checkpoint has every weight of this
# model but the audio encoder, which the checkpoint upgrade keeps from AUDIO_MODEL_PATH; that one
# gap is allowed explicitly (any other missing weight would still be listed in the log).
export UNIVAL_ALLOW_MISSING_WEIGHTS=${UNIVAL_ALLOW_MISSING_WEIGHTS:-1}
init_or_resume_flags
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${UNIVAL_OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
