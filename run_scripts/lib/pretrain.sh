#!/usr/bin/env bash
# pretrain_launch STAGE ARGS...: the unify_task pretraining command of one curriculum stage (the
# authors' pretraining/unival_s1.sh, unival_s2.sh, unival_s2_hs.sh). Source after env.sh,
# common_flags.sh, launch.sh and recipe.sh; the stage scripts in run_scripts/pretraining/ set the
# stage's defaults and call this.
#
# Stage defaults (each overridable from the environment):
#   stage 1:   image-text; init $UNIVAL_CKPT/bart.base/model.pt + the ImageNet ResNet-101
#              (RESNET_MODEL_PATH); P 384; lr 2e-4; batch 2 x 2 per GPU;
#              main vision_language_caption.tsv + QA (cnt 1) + grounding (cnt 1) + cc12m (cnt 8)
#   stage 2:   + video; init $UNIVAL_CKPT/unival_s1/checkpoint15.pt + the Kinetics ResNeXt-101
#              for the new video encoder (VIDEO_MODEL_PATH); P 384; video 8 x 224; lr 1e-4;
#              batch 4 x 2 per GPU; main vision_language_mini_vqa_ground.tsv + video (cnt 1)
#   stage 2hs: init $UNIVAL_CKPT/unival_s2/checkpoint8.pt; P 480; video 16 x 384; lr 5e-5
# All stages: the authors ran 128 GPUs (16 nodes of 8), so a global batch of 512 rows (stage 1)
# or 1024 (stages 2, 2hs); UPDATE_FREQ defaults to what keeps it on this launch's world size
# (lib/recipe.sh recipe_batch; GLOBAL_BATCH changes it). 50-epoch polynomial schedule with warmup ratio 0.01 (the runs stop early: stage 1
# at epoch 15, stage 2 at 8, stage 2hs at 1), Adam, clip-norm 5, no label smoothing, fp16 with
# scale window 128, validation disabled, --reset-{dataloader,meters,optimizer} (a stage whose
# SAVE_DIR holds checkpoint_last.pt resumes from it instead: common_flags.sh init_or_resume_flags).
# Files: DATA_DIR ($UNIVAL_DATA/pretrain) holds the TSVs and negative_sample/; IMAGE_DIR
# (default $UNIVAL_DATA) is the root of the media paths; INIT_CHECKPOINT; SAVE_DIR
# ($UNIVAL_OUT/pretraining/$RUN_NAME); RESNET_MODEL_PATH (stage 1: timm's resnet101_a1h-36d3f2aa.pth)
# and VIDEO_MODEL_PATH (stage 2 with video: resnext-101-kinetics.pth) are required for the
# recipe's encoders ("none" starts them from random weights; other encoders need no file).
# Set a *_DATA variable to "none" to drop that stream.

pretrain_launch() {
    local stage=$1
    shift
    local d_main d_video d_lr d_batch d_init d_p d_frames d_frame_size d_patch_num d_run
    case $stage in
        1) d_main=vision_language_caption.tsv d_video=none d_lr=2e-4 d_batch=2 d_init=bart.base/model.pt
           d_p=384 d_frames=8 d_frame_size=224 d_patch_num=144 d_run=unival_s1 ;;
        2) d_main=vision_language_mini_vqa_ground.tsv d_video=video_mini_webvid2mccapqa.tsv d_lr=1e-4 d_batch=4
           d_init=unival_s1/checkpoint15.pt d_p=384 d_frames=8 d_frame_size=224 d_patch_num=144 d_run=unival_s2 ;;
        2hs) d_main=vision_language_mini_vqa_ground.tsv d_video=video_mini_webvid2mccapqa.tsv d_lr=5e-5 d_batch=4
           d_init=unival_s2/checkpoint8.pt d_p=480 d_frames=16 d_frame_size=384 d_patch_num=225 d_run=unival_s2_hs ;;
        *) die "unknown pretraining stage '$stage' (1, 2 or 2hs)" ;;
    esac
    local arch=${ARCH:-unival_base} run_name=${RUN_NAME:-$d_run}
    recipe_batch $((128 * d_batch * 2)) 128 "$d_batch"  # the authors: 128 GPUs x d_batch x update-freq 2
    path_default DATA_DIR UNIVAL_DATA pretrain
    path_default IMAGE_DIR UNIVAL_DATA .
    IMAGE_DIR=${IMAGE_DIR%/.}
    path_default INIT_CHECKPOINT UNIVAL_CKPT "$d_init"
    path_default SAVE_DIR UNIVAL_OUT "pretraining/$run_name"
    local main=${TRAIN_DATA:-$DATA_DIR/$d_main}
    local video=${VIDEO_DATA:-$([[ $d_video == none ]] && echo none || echo "$DATA_DIR/$d_video")}
    local vqa=none ground=none cc12m=none
    if [[ $stage == 1 ]]; then
        vqa=${VQA_DATA:-$DATA_DIR/vision_language_qa.tsv}
        ground=${GROUND_DATA:-$DATA_DIR/vision_language_ground.tsv}
        cc12m=${IMAGE_TEXT_DATA:-$DATA_DIR/cc12m.tsv}
    fi

    local -a task=(
        --task=unify_task
        --selected-cols="${SELECTED_COLS:-0,1,2,3,4,5,6,7}"
        --neg-sample-dir="${NEG_SAMPLE_DIR:-$DATA_DIR/negative_sample}"
        --dict-path="${DICT_PATH:-$UNIVAL_DATA/dict.txt}"
        --image-dir="$IMAGE_DIR"
        --read-from-img-path
        --patch-image-size="${PATCH_IMAGE_SIZE:-$d_p}"
        --max-image-size=512
        --num-bins=1000
        --max-src-length="${MAX_SRC_LENGTH:-80}"
        --max-tgt-length="${MAX_TGT_LENGTH:-30}"
    )
    if [[ $vqa != none ]]; then task+=(--image-text-vqa-data="$vqa" --image-text-vqa-cnt="${VQA_CNT:-1}"); fi
    if [[ $ground != none ]]; then task+=(--image-text-ground-data="$ground" --image-text-ground-cnt="${GROUND_CNT:-1}"); fi
    if [[ $cc12m != none ]]; then task+=(--image-text-data="$cc12m" --image-text-cnt="${IMAGE_TEXT_CNT:-8}"); fi
    if [[ -n ${BPE_DIR:-} ]]; then task+=(--bpe-dir="$BPE_DIR"); fi

    local -a model=(--arch="$arch" "${UNIVAL_ARCH_FLAGS[@]}" --sample-patch-num="${SAMPLE_PATCH_NUM:-$d_patch_num}")
    # Stage 1 builds the image encoder afresh: the authors start it from timm's ImageNet weights.
    if [[ $stage == 1 && $IMAGE_ENCODER == timm_resnet && $RESNET_TYPE == resnet101 ]]; then
        backbone_weights RESNET_MODEL_PATH resnet-model-path resnet101_a1h-36d3f2aa.pth \
            "timm ResNet-101 image encoder (ImageNet, a1h)"
        model+=("${BACKBONE_FLAGS[@]}")
    elif [[ -n ${RESNET_MODEL_PATH:-} && $RESNET_MODEL_PATH != none ]]; then
        model+=(--resnet-model-path="$RESNET_MODEL_PATH")
    fi
    if [[ $video == none ]]; then
        model+=(--video-encoder-name=none)
    else
        local video_encoder=${VIDEO_ENCODER:-all_resnext101}
        model+=(--video-encoder-name="$video_encoder")
        # Stage 2 adds the video encoder: the authors start it from Kinetics weights.
        if [[ $stage == 2 && $video_encoder == all_resnext101 ]]; then
            backbone_weights VIDEO_MODEL_PATH video-model-path resnext-101-kinetics.pth \
                "ResNeXt-101 3-D video encoder (Kinetics)"
            model+=("${BACKBONE_FLAGS[@]}")
        elif [[ -n ${VIDEO_MODEL_PATH:-} && $VIDEO_MODEL_PATH != none ]]; then
            model+=(--video-model-path="$VIDEO_MODEL_PATH")
        fi
        task+=(--video-data="$video" --video-cnt="${VIDEO_CNT:-1}"
               --num-frames="${NUM_FRAMES:-$d_frames}" --patch-frame-size="${PATCH_FRAME_SIZE:-$d_frame_size}")
    fi

    local -a optim=()
    local flag
    for flag in "${UNIVAL_OPTIM_FLAGS[@]}"; do
        [[ $flag == --lr-scheduler=* ]] || optim+=("$flag")
    done
    optim+=(--lr-scheduler=polynomial_decay_warmup_ratio --warmup-ratio="${WARMUP_RATIO:-0.01}"
            --lr="${LR:-$d_lr}" --max-epoch="${MAX_EPOCH:-50}")

    local -a run=(
        --criterion=adjust_label_smoothed_cross_entropy
        --label-smoothing="${LABEL_SMOOTHING:-0.0}"
        --batch-size="$BATCH_SIZE"
        --update-freq="$UPDATE_FREQ"
        --save-dir="$SAVE_DIR"
        --save-interval=1
        --keep-last-epochs="${KEEP_LAST_EPOCHS:-15}"
        --disable-validation
        --fixed-validation-seed=7
    )
    # stage 1 adds the media modules to text-only BART, stage 2 the video encoder: they start anew
    export UNIVAL_ALLOW_MISSING_WEIGHTS=${UNIVAL_ALLOW_MISSING_WEIGHTS:-1}
    init_or_resume_flags  # the init checkpoint with resets, or this stage's checkpoint_last.pt
    run+=("${UNIVAL_INIT_FLAGS[@]}")
    precision_flags 128  # PRECISION: fp16 (GPU default, scale window 128), bf16 or fp32
    local -a device=("${UNIVAL_PRECISION_FLAGS[@]}")
    if [[ $DEVICE == cpu ]]; then device+=(--cpu); fi

    launch "$(find_tool fairseq-train)" "$main" --user-dir="$USER_DIR" \
        "${task[@]}" "${model[@]}" "${optim[@]}" "${run[@]}" "${device[@]}" "${UNIVAL_LOG_FLAGS[@]}" "$@"
}
