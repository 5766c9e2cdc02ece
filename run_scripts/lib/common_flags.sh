#!/usr/bin/env bash
# Flags shared by UnIVAL run scripts, written once. Source after env.sh; defines arrays only.
#
#   UNIVAL_ARCH_FLAGS    the architecture flags every official UnIVAL script passes
#   UNIVAL_OPTIM_FLAGS   the fine-tuning optimisation settings common to all the authors' recipes;
#                        scripts add --warmup-ratio (the schedule spans --max-epoch epochs of the
#                        training file, counted by the plugin's polynomial_decay_warmup_ratio)
#   UNIVAL_FINETUNE_FLAGS  checkpointing and validation cadence (the authors')
#   init_or_resume_flags   (a function) the starting point: INIT_CHECKPOINT with the resets of
#                        the authors' recipes, or the run's own checkpoint_last.pt when it exists (resume)
#   UNIVAL_DEVICE_FLAGS  --cpu on DEVICE=cpu; PRECISION (default fp16 with scale window 512
#                        on DEVICE=gpu, fp32 on cpu; bf16 possible on both)
#   UNIVAL_LOG_FLAGS     log format and interval, data loader workers, seed, valid-subset check
#
# Values can be changed through the environment (defaults are the official ones):
#   DROPOUT ATTENTION_DROPOUT RESNET_DROP_PATH ENCODER_DROP_PATH DECODER_DROP_PATH
#   IMAGE_ENCODER RESNET_TYPE (set to an empty string to keep the architecture's own choice)
#   WEIGHT_DECAY CLIP_NORM VALIDATE_INTERVAL(epochs) VALIDATE_INTERVAL_UPDATES SAVE_INTERVAL(epochs) LOG_INTERVAL
#   FIXED_VALIDATION_SEED (7; empty: none)
#   NUM_WORKERS SEED DATA_BUFFER_SIZE
#   SKIP_BAD_SAMPLES (default 1: training skips and counts unreadable rows, "nskipped" in the
#   log lines, and stops when more than MAX_BAD_SAMPLE_FRACTION of the rows read are bad,
#   default 0.01; SKIP_BAD_SAMPLES=0 stops at the first bad row)

UNIVAL_ARCH_FLAGS=(
    --encoder-normalize-before
    --decoder-normalize-before
    --share-decoder-input-output-embed
    --share-all-embeddings
    --layernorm-embedding
    --patch-layernorm-embedding
    --code-layernorm-embedding
    --add-type-embedding
    --scale-attn
    --scale-fc
    --scale-heads
    --disable-entangle
    --resnet-drop-path-rate="${RESNET_DROP_PATH:-0.0}"
    --encoder-drop-path-rate="${ENCODER_DROP_PATH:-0.1}"
    --decoder-drop-path-rate="${DECODER_DROP_PATH:-0.1}"
    --dropout="${DROPOUT:-0.1}"
    --attention-dropout="${ATTENTION_DROPOUT:-0.0}"
)
IMAGE_ENCODER=${IMAGE_ENCODER-timm_resnet}
RESNET_TYPE=${RESNET_TYPE-resnet101}
if [[ -n $IMAGE_ENCODER ]]; then UNIVAL_ARCH_FLAGS+=(--image-encoder-name="$IMAGE_ENCODER"); fi
if [[ -n $RESNET_TYPE ]]; then UNIVAL_ARCH_FLAGS+=(--resnet-type="$RESNET_TYPE"); fi

UNIVAL_OPTIM_FLAGS=(
    --optimizer=adam
    --adam-betas="(0.9,0.999)"
    --adam-eps=1e-08
    --weight-decay="${WEIGHT_DECAY:-0.01}"
    --clip-norm="${CLIP_NORM:-1.0}"
    --lr-scheduler=polynomial_decay_warmup_ratio
    --end-learning-rate=0.0
)

UNIVAL_FINETUNE_FLAGS=(
    --no-epoch-checkpoints
    --save-interval="${SAVE_INTERVAL:-1}"
    --validate-interval="${VALIDATE_INTERVAL:-1}"
    --validate-interval-updates="${VALIDATE_INTERVAL_UPDATES:-2000}"
    --find-unused-parameters
)
# The authors validate with a fixed seed (7): every validation draws the same random numbers.
# FIXED_VALIDATION_SEED="" leaves it out.
FIXED_VALIDATION_SEED=${FIXED_VALIDATION_SEED-7}
if [[ -n $FIXED_VALIDATION_SEED ]]; then UNIVAL_FINETUNE_FLAGS+=(--fixed-validation-seed="$FIXED_VALIDATION_SEED"); fi

# init_or_resume_flags [FLAG...]: set UNIVAL_INIT_FLAGS, the starting point of a training run.
# - $SAVE_DIR/checkpoint_last.pt exists (a stopped or preempted run, e.g. a requeued SLURM job):
#   resume from it with its optimizer, learning-rate schedule, data position and meters
#   (fairseq's default --restore-file; nothing is reset). RESUME=0 starts afresh instead.
# - otherwise: --restore-file=$INIT_CHECKPOINT (none for "scratch") plus FLAG... (e.g. --strict),
#   with --reset-optimizer --reset-dataloader --reset-meters (as the authors): only the weights are kept.
init_or_resume_flags() {
    UNIVAL_INIT_FLAGS=()
    if [[ ${RESUME:-1} == 1 && -f $SAVE_DIR/checkpoint_last.pt ]]; then
        echo "run_scripts: resuming from $SAVE_DIR/checkpoint_last.pt (RESUME=0 starts afresh)" >&2
        return 0
    fi
    if [[ $INIT_CHECKPOINT != scratch ]]; then UNIVAL_INIT_FLAGS+=(--restore-file="$INIT_CHECKPOINT" "$@"); fi
    UNIVAL_INIT_FLAGS+=(--reset-optimizer --reset-dataloader --reset-meters)
}

# precision_flags SCALE_WINDOW: print nothing; set UNIVAL_PRECISION_FLAGS from PRECISION (fp16 | bf16 |
# fp32; default fp16 on DEVICE=gpu, fp32 on cpu): fp16 uses fairseq's dynamic loss scaler with
# this scale window (the authors': 512 for fine-tuning, 128 for pretraining); bf16 needs no scaler.
precision_flags() {
    local precision=${PRECISION:-$([[ $DEVICE == gpu ]] && echo fp16 || echo fp32)}
    case $precision in
        fp16) UNIVAL_PRECISION_FLAGS=(--fp16 --fp16-scale-window="$1") ;;
        bf16) UNIVAL_PRECISION_FLAGS=(--bf16) ;;
        fp32) UNIVAL_PRECISION_FLAGS=() ;;
        *) die "PRECISION must be fp16, bf16 or fp32 (got '$precision')" ;;
    esac
}
precision_flags 512
UNIVAL_DEVICE_FLAGS=("${UNIVAL_PRECISION_FLAGS[@]}")
if [[ $DEVICE == cpu ]]; then UNIVAL_DEVICE_FLAGS+=(--cpu); fi

# --ignore-unused-valid-subsets: fairseq-train lists the --data "directory" looking for stray
# valid*.idx files, which fails on UnIVAL's comma list of TSV files.
# --data-buffer-size=0: fairseq's default (10) fills batches in a daemon thread; when training
# stops mid-epoch (--max-update, --stop-time-hours) while that thread is inside a torch call,
# the interpreter's exit kills it there and the process aborts ("terminate called without an
# active exception", exit 134) after the checkpoint is saved. DataLoader workers prefetch anyway.
UNIVAL_LOG_FLAGS=(
    --ignore-unused-valid-subsets
    --data-buffer-size="${DATA_BUFFER_SIZE:-0}"
    --log-format=simple
    --log-interval="${LOG_INTERVAL:-10}"
    --num-workers="${NUM_WORKERS:-0}"
    --seed="${SEED:-1}"
)
if [[ ${SKIP_BAD_SAMPLES:-1} == 1 ]]; then
    UNIVAL_LOG_FLAGS+=(--skip-bad-samples --max-bad-sample-fraction="${MAX_BAD_SAMPLE_FRACTION:-0.01}")
fi
