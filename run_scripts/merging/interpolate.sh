#!/usr/bin/env bash
# Pairwise weight interpolation between task experts, evaluated along the path (the paper's weight-interpolation experiments).
# For every pair (A, B) of EXPERTS (in list order), `unival merge sweep` writes
# lam * A + (1 - lam) * B for each lambda of LAMBDAS and evaluates it on the validation TSV of
# both experts' tasks, with the generation settings of each task's eval.sh; it writes
# SWEEP_DIR/A_B/A_B_sweep.csv (lambda, task, metric, value, checkpoint) and A_B_sweep.png.
# Two experts of one task (e.g. caption=a.pt caption=b.pt) are evaluated on that task only.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/merging/interpolate.sh [sweep flags ...]
#   DRY_RUN=1 ... prints the `unival merge sweep` commands (one per pair) instead of running them.
#
# Trailing arguments and EXTRA_ARGS go to every sweep command (e.g. --ema, --delete-checkpoints,
# --force; see `unival merge sweep --help`).
# Settings:
#   EXPERTS     recipe list RECIPE[=CHECKPOINT] ... (see lib/merging.sh), default
#               "caption vqa refcoco snli_ve": the four image-text experts, each from its
#               train.sh's default save directory under $UNIVAL_OUT (ARCH, DATASET as there)
#   LAMBDAS     comma list (default 0,0.2,0.4,0.6,0.8,1, the paper's grid)
#   SWEEP_DATA  RECIPE=TSV ... validation TSVs, default each train.sh's VALID_DATA default
#   SWEEP_DIR   $UNIVAL_OUT/merging/interpolate (merged checkpoints, results, CSV and PNG)
#   Each task's eval.sh reads its own variables (BEAM, BATCH_SIZE, DEVICE, ...).
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"
source "$LIB/merging.sh"

ARCH=${ARCH:-unival_base}
EXPERTS=${EXPERTS:-caption vqa refcoco snli_ve}
LAMBDAS=${LAMBDAS:-0,0.2,0.4,0.6,0.8,1}
path_default SWEEP_DIR UNIVAL_OUT merging/interpolate
UNIVAL_TOOL=$(find_tool unival)  # found before any step runs

# sweep_pair ITEM_A ITEM_B [ARGS...]: the sweep of one pair of experts.
sweep_pair() {
    local item_a=$1 item_b=$2 recipe_a recipe_b ckpt_a ckpt_b task_a task_b valid_a valid_b
    local options_a options_b name
    local -a evals eval_args
    shift 2
    recipe_a=$(recipe_of "$item_a")
    recipe_b=$(recipe_of "$item_b")
    ckpt_a=$(recipe_checkpoint "$item_a")
    ckpt_b=$(recipe_checkpoint "$item_b")
    task_a=$(recipe_task "$recipe_a")
    task_b=$(recipe_task "$recipe_b")
    valid_a=$(recipe_valid "$recipe_a")
    valid_b=$(recipe_valid "$recipe_b")
    options_a=$(recipe_eval_options "$recipe_a" "$valid_a")
    evals=("$task_a=$valid_a")
    eval_args=("$task_a=$options_a")
    if [[ $task_b != "$task_a" ]]; then  # two experts of one task: evaluated once
        options_b=$(recipe_eval_options "$recipe_b" "$valid_b")
        evals+=("$task_b=$valid_b")
        eval_args+=("$task_b=$options_b")
    fi
    name=${recipe_a}_${recipe_b}
    run_step "$UNIVAL_TOOL" merge sweep "$ckpt_a" "$ckpt_b" \
        --out-dir="$SWEEP_DIR/$name" \
        --name="$name" \
        --lambdas="$LAMBDAS" \
        --eval "${evals[@]}" \
        --eval-args "${eval_args[@]}" \
        "$@"
}

all_pairs() {
    local -a experts
    read -r -a experts <<<"$EXPERTS"
    ((${#experts[@]} >= 2)) || die "EXPERTS needs at least two recipes (got '$EXPERTS')"
    local i j
    for ((i = 0; i < ${#experts[@]}; i++)); do
        for ((j = i + 1; j < ${#experts[@]}; j++)); do
            sweep_pair "${experts[i]}" "${experts[j]}" "$@"
        done
    done
}

plan_then_run all_pairs "$@"
