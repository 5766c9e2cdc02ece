#!/usr/bin/env bash
# Helpers of the merging recipes (run_scripts/merging/*.sh). Source after env.sh and launch.sh;
# defines variables and functions only.
#
# A *recipe* is a task folder of run_scripts: caption vqa refcoco snli_ve video_caption video_qa
# audio_caption. Its train.sh fine-tunes a model and its eval.sh evaluates one; the merging
# recipes run those scripts (DRY_RUN and the recipe's own variables pass through).
# A recipe *list* (EXPERTS, AUXILIARY, MODELS) holds space-separated RECIPE or
# RECIPE=CHECKPOINT items. A bare RECIPE means the checkpoint its train.sh writes by default,
# $UNIVAL_OUT/RECIPE/RECIPE_$ARCH/checkpoint_best.pt (refcoco: refcoco/${DATASET}_$ARCH/...).

MERGING_RECIPES="caption vqa refcoco snli_ve video_caption video_qa audio_caption"

# recipe_of ITEM: print the RECIPE of a list item RECIPE[=CHECKPOINT]; dies on an unknown one.
recipe_of() {
    local recipe=${1%%=*}
    [[ " $MERGING_RECIPES " == *" $recipe "* ]] || die "unknown recipe '$recipe' (have: $MERGING_RECIPES)"
    printf '%s' "$recipe"
}

# recipe_task RECIPE: print the fairseq task RECIPE trains (the TASK of `unival merge sweep --eval`).
recipe_task() {
    case $1 in
        vqa) printf vqa_gen ;;
        video_qa) printf video_vqa_gen ;;
        *) recipe_of "$1" ;;
    esac
}

# recipe_checkpoint ITEM: print the checkpoint of a list item RECIPE[=CHECKPOINT].
recipe_checkpoint() {
    local item=$1 recipe run
    recipe=$(recipe_of "$item")
    if [[ $item == *=* ]]; then
        printf '%s' "${item#*=}"
        return 0
    fi
    [[ -n ${UNIVAL_OUT:-} ]] || die "UNIVAL_OUT is not set: export UNIVAL_OUT=<the directory" \
        "where runs write checkpoints>, or give the checkpoint as $recipe=CHECKPOINT"
    run=${recipe}_$ARCH
    if [[ $recipe == refcoco ]]; then run=${DATASET:-refcoco}_$ARCH; fi
    printf '%s/%s/%s/checkpoint_best.pt' "$UNIVAL_OUT" "$recipe" "$run"
}

# recipe_valid RECIPE: print RECIPE's validation TSV: its item in SWEEP_DATA (RECIPE=TSV ...),
# else the VALID_DATA default of its train.sh.
recipe_valid() {
    local recipe=$1 item rel
    for item in ${SWEEP_DATA:-}; do
        if [[ ${item%%=*} == "$recipe" ]]; then
            printf '%s' "${item#*=}"
            return 0
        fi
    done
    case $recipe in
        caption) rel=caption_valid.tsv ;;
        vqa) rel=vqa/vqa_val.tsv ;;
        refcoco) rel=${DATASET:-refcoco}/${DATASET:-refcoco}_val.tsv ;;
        snli_ve) rel=snli_ve/snli_ve_dev.tsv ;;
        video_caption) rel=video_caption/msrvtt_caption_test.tsv ;;
        video_qa) rel=video_qa/msrvtt_qa_val.tsv ;;
        audio_caption) rel=audio_caption/audiocaps_test.tsv ;;
        *) recipe_of "$recipe" >/dev/null ;;
    esac
    [[ -n ${UNIVAL_DATA:-} ]] || die "UNIVAL_DATA is not set: export UNIVAL_DATA=<the datasets" \
        "directory>, or give the validation TSV in SWEEP_DATA=\"$recipe=TSV ...\""
    printf '%s/%s' "$UNIVAL_DATA" "$rel"
}

# recipe_script RECIPE train|eval: print the path of RECIPE's script.
recipe_script() {
    local path=$UNIVAL_REPO_ROOT/run_scripts/$1/$2.sh
    [[ -f $path ]] || die "no $2 script for recipe '$1' ($path)"
    printf '%s' "$path"
}

# run_recipe RECIPE train|eval [ARGS...]: run RECIPE's script with bash (it reads the
# environment, e.g. DRY_RUN, INIT_CHECKPOINT, SAVE_DIR, CHECKPOINT, EXTRA_ARGS).
run_recipe() {
    local script
    script=$(recipe_script "$1" "$2")
    shift 2
    bash "$script" "$@"
}

_EVAL_OPTIONS_PY='import shlex, sys
argv = shlex.split(sys.argv[1])
if argv[1:2] != ["eval"]:
    sys.exit("not a unival eval command: " + sys.argv[1])
keep, skip = [], False
for arg in argv[3:]:
    if skip or arg in ("--data", "--results-path"):
        skip = not skip
        continue
    if not arg.startswith(("--data=", "--results-path=")):
        keep.append(arg)
print(shlex.join(keep))'

# recipe_eval_options RECIPE TSV: print the `unival eval` options RECIPE/eval.sh uses for TSV
# (its command rendered with DRY_RUN=1, without checkpoint, --data and --results-path) as one
# shell-quoted string: the ARGS of `unival merge sweep --eval-args TASK=ARGS`. EMA_EVAL=0: a
# merged checkpoint holds one set of weights (no --ema-eval for averaged models).
recipe_eval_options() {
    local line
    line=$(DRY_RUN=1 EXTRA_ARGS='' EMA_EVAL=0 CHECKPOINT=merged.pt TEST_DATA="$2" RESULTS_DIR=unused \
        run_recipe "$1" eval) || die "cannot render the eval.sh of '$1'"
    [[ $line != *$'\n'* ]] || die "the eval.sh of '$1' printed several lines: $line"
    "$PYTHON" -c "$_EVAL_OPTIONS_PY" "$line" || die "cannot read the eval.sh command of '$1': $line"
}

# run_step PROGRAM ARGS...: one step of a multi-step recipe: launch (EXTRA_ARGS appended,
# repeated flags refused, DRY_RUN=1 prints it) in a subshell, so the script goes on.
run_step() {
    (launch "$@")
}

# plan_then_run FUNCTION [ARGS...]: render every step FUNCTION runs with DRY_RUN=1 first, so
# that a bad flag or a missing variable fails before anything runs; with DRY_RUN=1 print those
# commands (one a line) and exit; otherwise run FUNCTION.
plan_then_run() {
    local plan
    plan=$(
        set -e  # command substitutions do not inherit errexit
        export DRY_RUN=1
        "$@"
    )
    if [[ ${DRY_RUN:-0} == 1 ]]; then
        printf '%s\n' "$plan"
        exit 0
    fi
    printf 'run_scripts: plan:\n%s\n' "$plan" >&2
    "$@"
}
