#!/usr/bin/env bash
# UnIVAL pretraining, stage 2hs of the curriculum (the authors' pretraining/unival_s2_hs.sh).
#
#   UNIVAL_DATA=... UNIVAL_CKPT=... UNIVAL_OUT=... run_scripts/pretraining/stage2_hs.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the fairseq-train command instead of running it.
#
# Defaults, files and the environment variables that change them: see run_scripts/lib/pretrain.sh.
# CLIP_NORM defaults to 5.0 here (pretraining), not the fine-tuning 1.0.
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
CLIP_NORM=${CLIP_NORM:-5.0}
source "$LIB/env.sh"
source "$LIB/common_flags.sh"
source "$LIB/launch.sh"
source "$LIB/recipe.sh"
source "$LIB/pretrain.sh"

pretrain_launch 2hs "$@"
