#!/usr/bin/env bash
# launch PROGRAM ARGS...: check and run one training/evaluation command. Source after env.sh.
#
# - User overrides: the run script passes its own trailing arguments ("$@") after its flags,
#   and launch appends EXTRA_ARGS (one shell-quoted string) after those. A user flag that the
#   script also sets wins (both stay on the command line and fairseq's argparse keeps the last);
#   each such flag is named on stderr ("run_scripts: your --flag overrides the script's ...").
# - Refuses a command in which the script names a --flag twice, or the user does (argparse
#   would silently keep the last one, hiding a mistake).
# - DRY_RUN=1 prints the command the launcher would run as one shell-quoted line on stdout and
#   exits 0 (with LAUNCHER=torchrun the torchrun line, with LAUNCHER=slurm the sbatch line).
# - LAUNCHER picks how the command runs (unset: torchrun for a training when NPROC_PER_NODE or
#   NNODES asks for more than one process, else local):
#     local     one process: CPU or one GPU
#     torchrun  NPROC_PER_NODE processes on each of NNODES nodes (training commands only):
#               torchrun starts lib/torchrun_worker.sh once per rank, which adds that rank's
#               --distributed-rank/--device-id/--distributed-world-size; launch adds the backends:
#               --distributed-backend=nccl on GPU, gloo on CPU, and on both
#               --ddp-backend=legacy_ddp (the authors' --ddp-backend=no_c10d, fairseq's name for
#               it): it all-reduces the whole gradient after backward and gives a parameter that
#               got no gradient (the video encoder of an image recipe, say) a zero one, where
#               torch's DistributedDataParallel without --find-unused-parameters stops at the
#               second update ("Expected to have finished reduction in the prior iteration").
#               It is also the only fairseq backend that runs on CPU, so CI trains through the
#               same code path as a GPU run. Give either flag yourself to change it.
#               NPROC_PER_NODE (default: SLURM_GPUS_ON_NODE, else the GPUs nvidia-smi lists; 1
#               on CPU) NNODES (1) NODE_RANK (SLURM_NODEID, else 0) MASTER_ADDR MASTER_PORT
#               (29500); one node without MASTER_ADDR: torchrun --standalone (a free port).
#     slurm     submit this run script as a SLURM job: sbatch lib/slurm.sbatch SCRIPT ARGS, which
#               runs the script once per node with srun and LAUNCHER=torchrun. NNODES (1),
#               NPROC_PER_NODE (GPUs per node, default 8 as on the authors' nodes), SBATCH_ARGS (extra
#               sbatch options, one shell-quoted string, e.g. "--partition=gpu --time=24:00:00").
#               The command is rendered and checked here first; DEVICE=auto means gpu.

# quote_arg ARG: print ARG quoted for a POSIX shell only where needed (like Python's shlex.quote).
quote_arg() {
    local s=$1
    if [[ -n $s && $s =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
        printf '%s' "$s"
    else
        printf "'%s'" "${s//\'/\'\\\'\'}"
    fi
}

# join_quoted ARGS...: print all ARGS as one shell-quoted line.
join_quoted() {
    local first=1 arg
    for arg in "$@"; do
        ((first)) || printf ' '
        first=0
        quote_arg "$arg"
    done
    printf '\n'
}

# split_words VAR STRING: set the array VAR to STRING split by POSIX shell rules (no expansion).
split_words() {
    local -n _out=$1
    _out=()
    [[ -n ${2:-} ]] || return 0
    local split='import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.argv[1])))'
    "$PYTHON" -c "$split" "$2" >/dev/null || die "cannot parse '$2' as shell words"
    mapfile -d '' -t _out < <("$PYTHON" -c "$split" "$2")
}

# split_extra_args: set UNIVAL_EXTRA to EXTRA_ARGS split by POSIX shell rules (no expansion).
split_extra_args() {
    split_words UNIVAL_EXTRA "${EXTRA_ARGS:-}" || die "cannot parse EXTRA_ARGS: $EXTRA_ARGS"
}

# check_no_duplicate_flags WHO ARGS...: die if any --flag (with or without =value) occurs twice
# in ARGS (WHO: "script" or "user", for the message).
check_no_duplicate_flags() {
    local who=$1 arg name
    shift
    local -A seen=()
    for arg in "$@"; do
        [[ $arg == --?* ]] || continue
        name=${arg%%=*}
        if [[ -n ${seen[$name]:-} ]]; then
            if [[ $who == script ]]; then
                die "flag $name is given twice by the run script; change its value through the" \
                    "script's environment variable (see the header of the run script)"
            fi
            die "flag $name is given twice in your arguments (after the script name or in" \
                "EXTRA_ARGS); give it once"
        fi
        seen[$name]=1
    done
}

# split_user_args ARGS...: set SCRIPT_PART to ARGS without the run script's own trailing
# arguments (UNIVAL_SCRIPT_ARGS, which every run script passes last) and USER_PART to those
# arguments followed by EXTRA_ARGS (UNIVAL_EXTRA).
split_user_args() {
    local n=$# n_user=${#UNIVAL_SCRIPT_ARGS[@]} i
    SCRIPT_PART=("$@")
    USER_PART=()
    if ((n_user > 0 && n >= n_user)); then
        local -a tail=("${@:n-n_user+1}")
        for ((i = 0; i < n_user; i++)); do
            [[ ${tail[i]} == "${UNIVAL_SCRIPT_ARGS[i]}" ]] || break
        done
        if ((i == n_user)); then
            SCRIPT_PART=("${@:1:n-n_user}")
            USER_PART=("${tail[@]}")
        fi
    fi
    USER_PART+=("${UNIVAL_EXTRA[@]}")
}

# log_overrides: name on stderr each user flag (USER_PART) that replaces a flag of the script
# (SCRIPT_PART), with both values.
log_overrides() {
    local arg name ours
    for arg in "${USER_PART[@]}"; do
        [[ $arg == --?* ]] || continue
        name=${arg%%=*}
        for ours in "${SCRIPT_PART[@]}"; do
            if [[ $ours == "$name" || $ours == "$name="* ]]; then
                echo "run_scripts: your $arg overrides the script's $ours" >&2
                break
            fi
        done
    done
}

# has_flag NAME ARGS...: true when ARGS hold --NAME or --NAME=value.
has_flag() {
    local name=$1 arg
    shift
    for arg in "$@"; do
        [[ $arg == "$name" || $arg == "$name="* ]] && return 0
    done
    return 1
}

# Flags torchrun_worker.sh adds per rank: a user may not give them.
RANK_FLAGS=(--distributed-rank --distributed-world-size --device-id --distributed-init-method
            --distributed-no-spawn --distributed-num-procs)

# _command_LAUNCHER CMD...: set LAUNCH_CMD to what runs CMD with that launcher.
_command_local() {
    LAUNCH_CMD=("$@")
}

# training_launcher: print LAUNCHER, or when it is unset: torchrun if NPROC_PER_NODE or NNODES
# asks for more than one process, else local.
training_launcher() {
    if [[ -n ${LAUNCHER:-} ]]; then
        printf '%s' "$LAUNCHER"
    elif [[ ${NPROC_PER_NODE:-1} != 1 || ${NNODES:-1} != 1 ]]; then
        printf torchrun
    else
        printf local
    fi
}

# launch_geometry: set LAUNCH_NPROC (processes per node) and LAUNCH_NNODES of a training; the
# world size is their product (1 x 1 for LAUNCHER=local).
launch_geometry() {
    local launcher nnodes=${NNODES:-1} nproc
    launcher=$(training_launcher)
    case $launcher in
        local) LAUNCH_NPROC=1 LAUNCH_NNODES=1; return 0 ;;
        slurm) nproc=${NPROC_PER_NODE:-$([[ $DEVICE == gpu ]] && echo 8 || echo 1)} ;;
        *) nproc=${NPROC_PER_NODE:-${SLURM_GPUS_ON_NODE:-}}
            if [[ -z $nproc ]]; then
                if [[ $DEVICE == cpu ]]; then
                    nproc=1
                elif command -v nvidia-smi >/dev/null 2>&1; then
                    nproc=$(nvidia-smi -L | grep -c '^GPU')
                fi
                [[ -n $nproc && $nproc -gt 0 ]] || die "LAUNCHER=torchrun: cannot count the GPUs; set NPROC_PER_NODE"
            fi ;;
    esac
    [[ $nproc =~ ^[1-9][0-9]*$ && $nnodes =~ ^[1-9][0-9]*$ ]] ||
        die "NPROC_PER_NODE and NNODES must be positive integers (got '$nproc', '$nnodes')"
    LAUNCH_NPROC=$nproc LAUNCH_NNODES=$nnodes
}

_command_torchrun() {
    local nnodes nproc flag
    launch_geometry
    nproc=$LAUNCH_NPROC nnodes=$LAUNCH_NNODES
    if [[ $(basename "$1") != fairseq-train ]]; then
        ((nproc * nnodes == 1)) || die "LAUNCHER=torchrun runs only fairseq-train on several processes;" \
            "run $(basename "$1") with NPROC_PER_NODE=1 NNODES=1 (or LAUNCHER=local)"
        LAUNCH_CMD=("$@")
        return 0
    fi
    for flag in "${RANK_FLAGS[@]}"; do
        if has_flag "$flag" "$@"; then die "flag $flag is set per rank by LAUNCHER=torchrun; do not give it"; fi
    done
    local -a cmd=("$@")
    if [[ $DEVICE == cpu ]]; then
        has_flag --distributed-backend "$@" || cmd+=(--distributed-backend=gloo)
    else
        has_flag --distributed-backend "$@" || cmd+=(--distributed-backend=nccl)
    fi
    has_flag --ddp-backend "$@" || cmd+=(--ddp-backend=legacy_ddp)
    LAUNCH_CMD=("$(find_tool torchrun)" --nnodes="$nnodes" --nproc-per-node="$nproc")
    if ((nnodes == 1)) && [[ -z ${MASTER_ADDR:-} ]]; then
        LAUNCH_CMD+=(--standalone)
    else
        [[ -n ${MASTER_ADDR:-} ]] || die "LAUNCHER=torchrun with NNODES=$nnodes needs MASTER_ADDR (the first node)"
        LAUNCH_CMD+=(--node-rank="${NODE_RANK:-${SLURM_NODEID:-0}}" --master-addr="$MASTER_ADDR"
                     --master-port="${MASTER_PORT:-29500}")
    fi
    LAUNCH_CMD+=(--no-python bash "$UNIVAL_REPO_ROOT/run_scripts/lib/torchrun_worker.sh" "${cmd[@]}")
}

_command_slurm() {
    [[ -n ${UNIVAL_SCRIPT:-} && -f $UNIVAL_SCRIPT ]] || die "LAUNCHER=slurm: cannot tell which run script to submit"
    local nnodes=${NNODES:-1} name script_dir
    script_dir=$(basename "$(dirname "$UNIVAL_SCRIPT")")
    name=unival-$script_dir-$(basename "$UNIVAL_SCRIPT" .sh)
    local -a sbatch_args
    split_words sbatch_args "${SBATCH_ARGS:-}" || die "cannot parse SBATCH_ARGS: $SBATCH_ARGS"
    LAUNCH_CMD=("$(find_tool sbatch)" --job-name="$name" --nodes="$nnodes" --ntasks-per-node=1)
    if [[ $DEVICE == gpu ]]; then LAUNCH_CMD+=(--gpus-per-node="${NPROC_PER_NODE:-8}"); fi
    LAUNCH_CMD+=("${sbatch_args[@]}" "$UNIVAL_REPO_ROOT/run_scripts/lib/slurm.sbatch"
                 "$UNIVAL_SCRIPT" "${UNIVAL_SCRIPT_ARGS[@]}")
}

launch() {
    split_extra_args
    split_user_args "$@"
    check_no_duplicate_flags script "${SCRIPT_PART[@]}"
    check_no_duplicate_flags user "${USER_PART[@]}"
    log_overrides
    local -a cmd=("${SCRIPT_PART[@]}" "${USER_PART[@]}")
    local launcher=${LAUNCHER:-local}
    if [[ -z ${LAUNCHER:-} && $(basename "${cmd[0]}") == fairseq-train ]]; then launcher=$(training_launcher); fi
    declare -F "_command_$launcher" >/dev/null || die "unknown LAUNCHER '$launcher' (have: local torchrun slurm)"
    [[ -n ${cmd[0]} ]] || die "no program to launch (a tool lookup failed above)"
    "_command_$launcher" "${cmd[@]}"
    if [[ ${DRY_RUN:-0} == 1 ]]; then
        join_quoted "${LAUNCH_CMD[@]}"
        exit 0
    fi
    echo "run_scripts: running: $(join_quoted "${LAUNCH_CMD[@]}")" >&2
    "${LAUNCH_CMD[@]}"
}
