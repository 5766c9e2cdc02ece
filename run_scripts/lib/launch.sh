#!/usr/bin/env bash
# launch PROGRAM ARGS...: check and run one training/evaluation command. Source after env.sh.
#
# - User overrides: the run script passes its own trailing arguments ("$@") after its flags,
#   and launch appends EXTRA_ARGS (one shell-quoted string) after those.
# - Refuses a command that names any --flag twice (argparse would silently keep the last one).
# - DRY_RUN=1 prints the command as one shell-quoted line on stdout and exits 0.
# - LAUNCHER picks how the command runs. Only "local" exists for now (one process: CPU or one
#   GPU); a torchrun or SLURM launcher is one more _launch_<name> function here.

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

# split_extra_args: set UNIVAL_EXTRA to EXTRA_ARGS split by POSIX shell rules (no expansion).
split_extra_args() {
    UNIVAL_EXTRA=()
    [[ -n ${EXTRA_ARGS:-} ]] || return 0
    local split='import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.argv[1])))'
    "$PYTHON" -c "$split" "$EXTRA_ARGS" >/dev/null || die "cannot parse EXTRA_ARGS: $EXTRA_ARGS"
    mapfile -d '' -t UNIVAL_EXTRA < <("$PYTHON" -c "$split" "$EXTRA_ARGS")
}

# check_no_duplicate_flags ARGS...: die if any --flag (with or without =value) occurs twice.
check_no_duplicate_flags() {
    local -A seen=()
    local arg name
    for arg in "$@"; do
        [[ $arg == --?* ]] || continue
        name=${arg%%=*}
        if [[ -n ${seen[$name]:-} ]]; then
            die "flag $name is given twice; change the script's value through its environment" \
                "variable instead of repeating the flag (see the header of the run script)"
        fi
        seen[$name]=1
    done
}

_launch_local() {
    "$@"
}

launch() {
    split_extra_args
    local -a cmd=("$@" "${UNIVAL_EXTRA[@]}")
    check_no_duplicate_flags "${cmd[@]}"
    if [[ ${DRY_RUN:-0} == 1 ]]; then
        join_quoted "${cmd[@]}"
        exit 0
    fi
    local launcher=${LAUNCHER:-local}
    declare -F "_launch_$launcher" >/dev/null || die "unknown LAUNCHER '$launcher' (have: local)"
    [[ -n ${cmd[0]} ]] || die "no program to launch (a tool lookup failed above)"
    echo "run_scripts: running: $(join_quoted "${cmd[@]}")" >&2
    "_launch_$launcher" "${cmd[@]}"
}
