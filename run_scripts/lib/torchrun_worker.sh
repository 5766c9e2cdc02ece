#!/usr/bin/env bash
# torchrun_worker.sh PROGRAM ARGS...: one rank of a LAUNCHER=torchrun run (see launch.sh).
#
# torchrun starts this once per rank with RANK, LOCAL_RANK and WORLD_SIZE set; it runs PROGRAM
# (fairseq-train) with that rank's distributed flags added. Explicit flags are needed: fairseq's
# own detection of torchrun divides by the CUDA device count (fails on CPU), and without
# --distributed-no-spawn fairseq spawns one process per GPU: none on CPU, exiting 0 untrained.
set -euo pipefail
for var in RANK LOCAL_RANK WORLD_SIZE MASTER_ADDR MASTER_PORT; do
    if [[ -z ${!var:-} ]]; then
        echo "torchrun_worker.sh: $var is not set; start this through torchrun (LAUNCHER=torchrun)" >&2
        exit 2
    fi
done
exec "$@" --distributed-world-size="$WORLD_SIZE" --distributed-rank="$RANK" --device-id="$LOCAL_RANK" \
    --distributed-init-method=env:// --distributed-no-spawn
