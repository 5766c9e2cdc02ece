#!/usr/bin/env bash
# What keeps a run faithful to the authors' recipe on a different machine. Source after env.sh
# and launch.sh; defines functions only.
#
#   recipe_batch REF_GLOBAL REF_GPUS BATCH        BATCH_SIZE and UPDATE_FREQ for the reference's
#                                                 global batch on this launch's world size
#   user_flag_value NAME                          the value of a --NAME=... the user gave
#   recipe_criterion_flags DEFAULT [CE_DROP_WORST]  CRITERION_FLAGS (encouraging loss or CE)
#   backbone_weights VAR FLAG FILE WHAT           the --FLAG=path of a backbone's weights, required

# recipe_batch REF_GLOBAL REF_GPUS BATCH: set BATCH_SIZE and UPDATE_FREQ so that
# world size x BATCH_SIZE x UPDATE_FREQ equals the reference's global batch REF_GLOBAL (the
# authors' GPU count REF_GPUS x their per-GPU batch x their update frequency), then log the
# effective global batch on stderr.
# - BATCH_SIZE defaults to BATCH (the authors' per-GPU batch); when the world is so large that
#   one step of it already exceeds the global batch, the per-GPU batch shrinks to fit (unless
#   BATCH_SIZE or UPDATE_FREQ is set).
# - UPDATE_FREQ, unless set, is REF_GLOBAL / (world size x BATCH_SIZE), rounded.
# - GLOBAL_BATCH changes the target. When the effective batch differs from the reference's (an
#   explicit UPDATE_FREQ, GLOBAL_BATCH or a world size that does not divide it), a WARNING says so
#   with both figures: the learning-rate schedule counts updates, so results will differ.
recipe_batch() {
    local ref=$1 ref_gpus=$2 default_batch=$3 world target user_batch=${BATCH_SIZE:-}
    launch_geometry
    world=$((LAUNCH_NPROC * LAUNCH_NNODES))
    target=${GLOBAL_BATCH:-$ref}
    [[ $target =~ ^[1-9][0-9]*$ ]] || die "GLOBAL_BATCH must be a positive integer (got '$target')"
    BATCH_SIZE=${BATCH_SIZE:-$default_batch}
    [[ $BATCH_SIZE =~ ^[1-9][0-9]*$ ]] || die "BATCH_SIZE must be a positive integer (got '$BATCH_SIZE')"
    if [[ -z $user_batch && -z ${UPDATE_FREQ:-} ]] && ((world * BATCH_SIZE > target)); then
        BATCH_SIZE=$((target / world > 0 ? target / world : 1))
    fi
    if [[ -z ${UPDATE_FREQ:-} ]]; then
        local step=$((world * BATCH_SIZE))
        UPDATE_FREQ=$(((target + step / 2) / step))
        ((UPDATE_FREQ >= 1)) || UPDATE_FREQ=1
    fi
    [[ $UPDATE_FREQ =~ ^[1-9][0-9]*$ ]] || die "UPDATE_FREQ must be a positive integer (got '$UPDATE_FREQ')"
    local effective=$((world * BATCH_SIZE * UPDATE_FREQ))
    local sum="global batch $effective = $world process(es) x batch $BATCH_SIZE x update-freq $UPDATE_FREQ"
    local reference="the reference's $ref ($ref_gpus GPUs x $((ref / ref_gpus)) samples each per update)"
    if ((effective == ref)); then
        echo "run_scripts: $sum, as $reference" >&2
    else
        echo "run_scripts: WARNING: $sum differs from $reference; the learning-rate schedule" \
            "counts updates, so the run is not the paper's recipe (unset UPDATE_FREQ/GLOBAL_BATCH" \
            "to keep the reference's global batch)" >&2
    fi
}

# user_flag_value NAME: print the value of the last --NAME=VALUE the user gave (after the script
# name or in EXTRA_ARGS); nothing when the user gave none.
user_flag_value() {
    local name=$1 arg value=
    split_extra_args
    for arg in "${UNIVAL_SCRIPT_ARGS[@]}" "${UNIVAL_EXTRA[@]}"; do
        [[ $arg == "$name="* ]] && value=${arg#*=}
    done
    printf '%s' "$value"
}

# recipe_criterion_flags DEFAULT [CE_DROP_WORST]: set CRITERION_FLAGS for CRITERION
# (encouraging | ce; default DEFAULT, the one the authors used):
#   encouraging  adjust_label_smoothed_encouraging_loss, the authors' values: label smoothing
#                LABEL_SMOOTHING, drop the worst DROP_WORST_RATIO (0.05) tokens after
#                DROP_WORST_AFTER (6000) updates and the best DROP_BEST_RATIO (0.05) after
#                DROP_BEST_AFTER (6000), bonus tangent from LOG_END (0.75)
#   ce           adjust_label_smoothed_cross_entropy with LABEL_SMOOTHING; drop-worst as above when
#                CE_DROP_WORST is 1 or DROP_WORST_RATIO is set
# A --criterion=NAME given by the user (after the script name or in EXTRA_ARGS) replaces the
# recipe's (logged) and picks that criterion's flag set; any other criterion gets none of these
# flags (bring its own). The user's --criterion is then the only one on the command line.
recipe_criterion_flags() {
    local choice=${CRITERION:-$1} ce_drop_worst=${2:-0} user recipe
    case $choice in
        encouraging) recipe=adjust_label_smoothed_encouraging_loss ;;
        ce) recipe=adjust_label_smoothed_cross_entropy ;;
        *) die "CRITERION must be encouraging or ce (got '$choice')" ;;
    esac
    user=$(user_flag_value --criterion)
    case $user in
        adjust_label_smoothed_encouraging_loss) choice=encouraging ;;
        adjust_label_smoothed_cross_entropy) choice=ce ;;
        "") ;;
        *) choice=other ;;
    esac
    if [[ -n $user && $user != "$recipe" ]]; then
        echo "run_scripts: your --criterion=$user overrides the recipe's --criterion=$recipe" \
            "(CRITERION=${CRITERION:-$1}); the script sets the flags of yours" >&2
    fi
    local -a drop_worst=(--drop-worst-ratio="${DROP_WORST_RATIO:-0.05}" --drop-worst-after="${DROP_WORST_AFTER:-6000}")
    case $choice in
        encouraging)
            CRITERION_FLAGS=(--criterion=adjust_label_smoothed_encouraging_loss
                             --label-smoothing="$LABEL_SMOOTHING" "${drop_worst[@]}"
                             --drop-best-ratio="${DROP_BEST_RATIO:-0.05}"
                             --drop-best-after="${DROP_BEST_AFTER:-6000}" --log-end="${LOG_END:-0.75}") ;;
        ce) CRITERION_FLAGS=(--criterion=adjust_label_smoothed_cross_entropy --label-smoothing="$LABEL_SMOOTHING")
            if [[ $ce_drop_worst == 1 || -n ${DROP_WORST_RATIO:-} ]]; then CRITERION_FLAGS+=("${drop_worst[@]}"); fi ;;
        other) CRITERION_FLAGS=() ;;
    esac
    # the user's copy names the criterion (a second one here would be refused as a duplicate)
    if [[ -n $user ]]; then CRITERION_FLAGS=("${CRITERION_FLAGS[@]:1}"); fi
}

# backbone_weights VAR FLAG FILE WHAT: set BACKBONE_FLAGS to (--FLAG=$VAR) for the weights a new
# backbone starts from (WHAT names it; FILE is the authors' file). VAR must be set: to the file,
# or to "none" to start that backbone from random weights on purpose. Outside DRY_RUN the file
# must exist.
backbone_weights() {
    local var=$1 flag=$2 file=$3 what=$4
    local value=${!var:-}
    BACKBONE_FLAGS=()
    if [[ -z $value ]]; then
        die "$var is not set: this recipe starts the $what from $file; download it and" \
            "export $var=/path/to/$file (or $var=none to train that encoder from random weights)"
    fi
    [[ $value == none ]] && return 0
    if [[ ${DRY_RUN:-0} != 1 && ! -f $value ]]; then
        die "$var=$value: no such file (the $what weights, $file)"
    fi
    BACKBONE_FLAGS=(--"$flag"="$value")
}
