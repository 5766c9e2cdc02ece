#!/usr/bin/env bash
# The parameter-efficient "onlylinear" mode of the fine-tuning scripts (the authors' *_onlylinear scripts). Source after
# env.sh; defines one function.
#
# onlylinear_defaults RECIPE: with ONLYLINEAR=1, only the modality -> language connection trains
# (encoder.{image,video,audio}_proj and encoder.embed_{image,video,audio}_positions); the
# transformer, embeddings, backbones and decoder are frozen (--freeze-encoder --freeze-decoder
# --freeze-{image,video,audio}-encoder). Sets the authors' values unless already set: LR MAX_EPOCH
# (and USE_DATAAUG for video QA, AUDIO_SAMPLE_RATE=48000 for audio), ONLYLINEAR_BATCH (their
# per-GPU batch; they used update frequency 2: the script keeps that global batch),
# RUN_NAME=<recipe>_onlylinear_<from>_$ARCH and INIT_CHECKPOINT:
#   ONLYLINEAR_FROM=s2 (default)  $UNIVAL_CKPT/unival_s2_hs/checkpoint1.pt (the reference's s2
#                                 scripts used checkpoint3.pt, which was not released)
#   ONLYLINEAR_FROM=s1            $UNIVAL_CKPT/unival_s1/checkpoint15.pt
# Defines UNIVAL_ONLYLINEAR_FLAGS (empty unless ONLYLINEAR=1). Call it after ARCH is set and
# before the script's own defaults.
onlylinear_defaults() {
    UNIVAL_ONLYLINEAR_FLAGS=()
    case ${ONLYLINEAR:-0} in
        0) return 0 ;;
        1) ;;
        *) die "ONLYLINEAR must be 0 or 1 (got '$ONLYLINEAR')" ;;
    esac
    local recipe=$1 from=${ONLYLINEAR_FROM:-s2} lr epochs batch
    case $from in
        s1 | s2) ;;
        *) die "ONLYLINEAR_FROM must be s1 or s2 (got '$from')" ;;
    esac
    case $recipe in
        caption | vqa) lr=5e-4 epochs=25 batch=16 ;;
        video_caption) lr=1e-3 epochs=25 batch=16 ;;
        video_qa) lr=1e-4 epochs=40 batch=8 USE_DATAAUG=${USE_DATAAUG:-1} ;;
        audio_caption) epochs=25 batch=8 AUDIO_SAMPLE_RATE=${AUDIO_SAMPLE_RATE:-48000}
            if [[ $from == s1 ]]; then lr=5e-3; else lr=5e-4; fi ;;
        *) die "ONLYLINEAR=1 exists for caption vqa video_caption video_qa audio_caption, not '$recipe'" ;;
    esac
    LR=${LR:-$lr}
    MAX_EPOCH=${MAX_EPOCH:-$epochs}
    ONLYLINEAR_BATCH=$batch
    RUN_NAME=${RUN_NAME:-${recipe}_onlylinear_${from}_$ARCH}
    if [[ $from == s1 ]]; then
        export UNIVAL_ALLOW_MISSING_WEIGHTS=${UNIVAL_ALLOW_MISSING_WEIGHTS:-1}  # s1 has no video/audio encoder
        path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s1/checkpoint15.pt
    else
        path_default INIT_CHECKPOINT UNIVAL_CKPT unival_s2_hs/checkpoint1.pt
    fi
    UNIVAL_ONLYLINEAR_FLAGS=(--freeze-encoder --freeze-decoder --freeze-image-encoder --freeze-video-encoder
                             --freeze-audio-encoder)
}
