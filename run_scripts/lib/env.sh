#!/usr/bin/env bash
# Shared environment for every run script: repository paths, machine paths from the
# environment, and the tools to run. Source it; it defines variables and functions only.
#
# Machine paths come only from these environment variables (never written in a script):
#   UNIVAL_DATA  datasets (TSV files, dict.txt, images)
#   UNIVAL_CKPT  checkpoints to start from (e.g. the released unival_s2_hs/checkpoint1.pt)
#   UNIVAL_OUT   where runs write checkpoints, logs and results
# Other knobs read here: DEVICE (cpu | gpu | auto, default auto; with LAUNCHER=slurm auto means
# gpu, the job's nodes decide), PYTHON.
# Sourced from a run script's top level, it also records that script and its arguments
# (UNIVAL_SCRIPT, UNIVAL_SCRIPT_ARGS): LAUNCHER=slurm submits them as they were given.

UNIVAL_SCRIPT=$0
UNIVAL_SCRIPT_ARGS=("$@")
UNIVAL_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
USER_DIR=${USER_DIR:-$UNIVAL_REPO_ROOT/fairseq_plugins/unival}
PYTHON=${PYTHON:-python3}

# die MESSAGE...: print "run_scripts: MESSAGE" to stderr and exit 2.
die() {
    echo "run_scripts: $*" >&2
    exit 2
}

# require_env NAME [VAR]: exit with a clear message unless the environment variable NAME is set
# (VAR: the variable that needed it, which can be set directly instead).
require_env() {
    local name=$1 for_var=${2:-} what
    case $name in
        UNIVAL_DATA) what="the datasets directory (TSV files, dict.txt, images)" ;;
        UNIVAL_CKPT) what="the directory of checkpoints to start from" ;;
        UNIVAL_OUT) what="the directory where runs write checkpoints and results" ;;
        *) what="a path" ;;
    esac
    [[ -n ${!name:-} ]] && return 0
    if [[ -n $for_var ]]; then
        die "$name is not set: export $name=<$what>, or set $for_var directly"
    fi
    die "$name is not set: export $name=<$what>"
}

# path_default VAR BASE REL: unless VAR is already set, set it to $BASE/REL, where BASE names
# one of the machine-path variables above (required only when the default is used).
path_default() {
    local var=$1 base=$2 rel=$3
    if [[ -z ${!var:-} ]]; then
        require_env "$base" "$var"
        printf -v "$var" '%s/%s' "${!base}" "$rel"
    fi
}

# find_tool NAME: print how to call the console script NAME (from PATH, else the repo's .venv).
find_tool() {
    local name=$1
    if command -v "$name" >/dev/null 2>&1; then
        printf '%s' "$name"
    elif [[ -x $UNIVAL_REPO_ROOT/.venv/bin/$name ]]; then
        printf '%s' "$UNIVAL_REPO_ROOT/.venv/bin/$name"
    elif [[ ${DRY_RUN:-0} == 1 ]]; then
        printf '%s' "$name"  # a dry run only prints the command
    else
        die "cannot find '$name' on PATH or in .venv/bin (run 'make venv' first)"
    fi
}

# DEVICE: cpu or gpu; auto picks gpu when nvidia-smi lists a GPU.
DEVICE=${DEVICE:-auto}
if [[ $DEVICE == auto && ${LAUNCHER:-local} == slurm ]]; then
    DEVICE=gpu
elif [[ $DEVICE == auto ]]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        DEVICE=gpu
    else
        DEVICE=cpu
    fi
fi
case $DEVICE in
    cpu | gpu) ;;
    *) die "DEVICE must be cpu, gpu or auto (got '$DEVICE')" ;;
esac
