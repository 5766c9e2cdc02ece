# zero_shot_vqa.sh: the body of run_scripts/zero_shot/{okvqa,vizwiz}.sh. The caller
# sets DATASET (okvqa | vizwiz) and sources env.sh and launch.sh first; this renders and runs
# one `unival eval --zero-shot --task=vqa_gen --noconstraints` command (see those scripts'
# headers for the variables).
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
