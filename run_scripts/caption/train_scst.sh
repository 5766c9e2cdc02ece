#!/usr/bin/env bash
# Self-critical (SCST) fine-tuning of a captioning model with a CIDEr-D reward.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/caption/train_scst.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#
# No released UnIVAL script runs this stage; the defaults follow the OFA stage-2
# captioning recipe the code derives from. It starts from the cross-entropy fine-tuned model of
# caption/train.sh. Every training row must hold ALL references of its image joined by "&&"
# (the format of caption_valid.tsv), since the reward scores the generated captions against them.
#
# Files (each can be set directly instead):
#   TRAIN_DATA   $UNIVAL_DATA/caption_stage2_train.tsv (one row per image, "&&"-joined references)
#   VALID_DATA   $UNIVAL_DATA/caption_valid.tsv
#   DICT_PATH    $UNIVAL_DATA/dict.txt
#   INIT_CHECKPOINT  $UNIVAL_OUT/caption/caption_$ARCH/checkpoint_best.pt (caption/train.sh's best)
#   SAVE_DIR     $UNIVAL_OUT/caption/$RUN_NAME
# Recipe values: ARCH BATCH_SIZE (per process) UPDATE_FREQ (default: from the world size, for the
#   global batch 64; GLOBAL_BATCH) MAX_EPOCH LR WARMUP_RATIO MAX_UPDATE PATCH_IMAGE_SIZE
#   MAX_SRC_LENGTH MAX_TGT_LENGTH SELECTED_COLS EVAL_ARGS SCST_ARGS (the generator of the
#   sampled captions: beam search returns `beam` captions per image; add "sampling":true to
#   sample them) SCST_BASELINE (leave-one-out | greedy) CIDER_CACHED_TOKENS (a reference-format
#   pickle of CIDEr-D document frequencies; unset: computed from TRAIN_DATA's references)
#   FREEZE_EMBEDDINGS(1/0) CONSTRAINT_RANGE (default "text": generation emits text tokens only,
#   no image code or location token; "start,end" for an id range); DEVICE=cpu for a CPU run;
#   shared flags: see lib/common_flags.sh.
# Hallucination penalty (CHAIR): CHAIR_PENALTY=lambda (> 0) rewards CIDEr-D - lambda * (distinct
#   objects a caption mentions that its image lacks) and needs CHAIR_GT, a COCO instances JSON or
#   a toy-world scenes JSON of the training images (--scst-chair-penalty, --scst-chair-gt). Rows
#   are matched by uniq_id = image id, so on the toy world TRAIN_DATA must be one row per image
#   with "&&"-joined references, like caption_valid.tsv. CHAIR_BONUS=mu (> 0, needs CHAIR_GT) adds
#   mu * (distinct objects named correctly): without it a model escapes the penalty by naming no
#   object (--scst-chair-bonus). CHAIR_GT alone (CHAIR_PENALTY and CHAIR_BONUS unset or 0) only
#   logs the hallucinated and correct mentions per caption.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/recipe.sh"

ARCH=${ARCH:-unival_base}
RUN_NAME=${RUN_NAME:-caption_scst_$ARCH}
recipe_batch 64 8 2  # OFA's caption stage 2: 8 GPUs x 2 x update-freq 4
MAX_EPOCH=${MAX_EPOCH:-5}
LR=${LR:-1e-5}
WARMUP_RATIO=${WARMUP_RATIO:-0.06}
PATCH_IMAGE_SIZE=${PATCH_IMAGE_SIZE:-480}
MAX_SRC_LENGTH=${MAX_SRC_LENGTH:-80}
MAX_TGT_LENGTH=${MAX_TGT_LENGTH:-20}
SELECTED_COLS=${SELECTED_COLS:-0,4,2}
EVAL_ARGS=${EVAL_ARGS:-'{"beam":5,"max_len_b":22,"no_repeat_ngram_size":3}'}
SCST_ARGS=${SCST_ARGS:-'{"beam":5,"max_len_b":16}'}
SCST_BASELINE=${SCST_BASELINE:-leave-one-out}
# sampled captions hold text tokens only: a policy pushed by the reward can drift into image
# codes (<code_i>), which no reward can pull it back from (measured: a toy run collapsed to
# "there are two shapes<code_88><code_7232>..." with every beam alike, zero advantage)
CONSTRAINT_RANGE=${CONSTRAINT_RANGE:-text}
FREEZE_EMBEDDINGS=${FREEZE_EMBEDDINGS:-1}

path_default TRAIN_DATA UNIVAL_DATA caption_stage2_train.tsv
path_default VALID_DATA UNIVAL_DATA caption_valid.tsv
path_default DICT_PATH UNIVAL_DATA dict.txt
path_default INIT_CHECKPOINT UNIVAL_OUT "caption/caption_$ARCH/checkpoint_best.pt"
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
    --scst
    --scst-args="$SCST_ARGS"
    --constraint-range="$CONSTRAINT_RANGE"
    --eval-cider
    --eval-args="$EVAL_ARGS"
    --best-checkpoint-metric=cider
    --maximize-best-checkpoint-metric
)
if [[ -n ${BPE_DIR:-} ]]; then TASK_FLAGS+=(--bpe-dir="$BPE_DIR"); fi

CRITERION_FLAGS=(--criterion=scst_reward_criterion --scst-baseline="$SCST_BASELINE")
if [[ -n ${CIDER_CACHED_TOKENS:-} ]]; then
    CRITERION_FLAGS+=(--scst-cider-cached-tokens="$CIDER_CACHED_TOKENS")
fi

for knob in "PENALTY=${CHAIR_PENALTY:-}" "BONUS=${CHAIR_BONUS:-}"; do
    value=${knob#*=}
    if [[ -n $value && ! $value =~ ^\+?0*\.?0*$ ]]; then
        [[ -n ${CHAIR_GT:-} ]] || die "CHAIR_$knob needs CHAIR_GT (a COCO instances JSON or a toy-world scenes JSON of the training images)"
        name=${knob%%=*}
        CRITERION_FLAGS+=(--scst-chair-${name,,}="$value")
    fi
done
if [[ -n ${CHAIR_GT:-} ]]; then CRITERION_FLAGS+=(--scst-chair-gt="$CHAIR_GT"); fi

MODEL_FLAGS=(--arch="$ARCH" "${UNIVAL_ARCH_FLAGS[@]}")
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
init_or_resume_flags  # a fresh run keeps only the weights (optimizer, schedule, data position reset)
RUN_FLAGS+=("${UNIVAL_INIT_FLAGS[@]}")

launch "$(find_tool fairseq-train)" "$TRAIN_DATA,$VALID_DATA" \
    --user-dir="$USER_DIR" \
    "${TASK_FLAGS[@]}" "${CRITERION_FLAGS[@]}" "${MODEL_FLAGS[@]}" \
    "${UNIVAL_OPTIM_FLAGS[@]}" "${UNIVAL_FINETUNE_FLAGS[@]}" "${RUN_FLAGS[@]}" \
    "${UNIVAL_DEVICE_FLAGS[@]}" "${UNIVAL_LOG_FLAGS[@]}" \
    "$@"
