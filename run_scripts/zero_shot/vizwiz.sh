#!/usr/bin/env bash
# Zero-shot VizWiz (the paper's zero-shot evaluation): a VQAv2-finetuned (or averaged) checkpoint evaluated on
# vizwiz_acc_val.tsv (written by data_utils/make_vizwiz_tsv.py). The vqa_gen task is built from the command
# line (--zero-shot), generation is unconstrained (--noconstraints: no answer trie) with no
# decoder prompt (--prompt-type none: the whole generated string is the answer), beam 5; the
# score is the mean VQA soft accuracy precomputed in the TSV. No candidate list is needed;
# ANS2LABEL is passed when set.
#
#   UNIVAL_DATA=... UNIVAL_OUT=... run_scripts/zero_shot/vizwiz.sh [--flag=value ...]
#   DRY_RUN=1 ... prints the `unival eval` command instead of running it.
#
# Files (each can be set directly instead):
#   CHECKPOINT   $UNIVAL_OUT/vqa/$RUN_NAME/checkpoint_best.pt (RUN_NAME: vqa_$ARCH)
#   TEST_DATA    $UNIVAL_DATA/vizwiz/vizwiz_acc_val.tsv
#   RESULTS_DIR  $UNIVAL_OUT/zero_shot/vizwiz_$RUN_NAME
#   ANS2LABEL, DICT_PATH, BPE_DIR  (optional) override the paths saved in the checkpoint
# Values: BEAM MAX_LEN_B BATCH_SIZE PATCH_IMAGE_SIZE SELECTED_COLS PROMPT_TYPE; DEVICE;
#   EMA_EVAL (1/0, default 0: averaged checkpoints have no EMA weights)
set -euo pipefail
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
source "$LIB/env.sh"
source "$LIB/launch.sh"

DATASET=vizwiz
source "$LIB/zero_shot_vqa.sh" "$@"
