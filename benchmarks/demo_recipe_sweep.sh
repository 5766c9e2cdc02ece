#!/usr/bin/env bash
# Recipe search for the caption demo (BENCHMARKS.md section 1): eight unival_tiny runs side by
# side on one GPU, each validated (CIDEr-D on 200 valid images) every VALI updates.
#
#   OUT=results_dir bash benchmarks/demo_recipe_sweep.sh [UPDATES=2500]
#   env: RUN_LIMIT (seconds per run, default 400), NTRAIN (train images, 3000), VALI (500)
#
# Toy worlds with other object sizes are written from a copy of the package whose
# scene.SIZES is edited (s20 = the old 0.2/0.34, s25 = 0.25/0.4, s28 = 0.28/0.45, the current
# default). Run from the repository root with the toolkit installed (fairseq importable).
set -u
export PYTHONPATH=$PWD/fairseq_plugins${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
UPD=${1:-2500}
: "${OUT:?set OUT to a results folder}"
W=$(mktemp -d); mkdir -p $OUT/logs
nvidia-smi --query-gpu=name,memory.used --format=csv

mkworld() {  # name small big
  local name=$1
  rm -rf $W/src_$name; mkdir -p $W/src_$name; cp -r fairseq_plugins data_utils $W/src_$name/
  sed -i "s/^SIZES = .*/SIZES = {\"small\": $2, \"big\": $3}/" $W/src_$name/fairseq_plugins/unival/toy_world/scene.py
  grep "^SIZES" $W/src_$name/fairseq_plugins/unival/toy_world/scene.py
  PYTHONPATH=$W/src_$name/fairseq_plugins python3 $W/src_$name/data_utils/toy_world.py --out $W/tw$name --seed 0 --num-train ${NTRAIN:-3000} --num-valid 200 --num-test 10 --image-size 64 > $OUT/logs/tw$name.log 2>&1
  python3 -c "
import random
rows=open('$W/tw$name/caption_train.tsv').read().splitlines(True); random.Random(0).shuffle(rows)
open('$W/tw$name/train_shuf.tsv','w').write(''.join(rows))"
}
mkworld s20 0.2 0.34 &
mkworld s25 0.25 0.4 &
mkworld s28 0.28 0.45 &
wait
run() {  # name size lr batch extra...
  local name=$1 size=$2 lr=$3 bsz=$4; shift 4
  local d=$W/tw$size
  local EA='{"beam": 3, "max_len_b": 22, "no_repeat_ngram_size": 3}'
  [[ -n ${NRNG0:-} ]] && EA='{"beam": 3, "max_len_b": 22, "no_repeat_ngram_size": 0}'
  timeout ${RUN_LIMIT:-400} python3 -m fairseq_cli.train $d/train_shuf.tsv,$d/caption_valid.tsv --user-dir=fairseq_plugins/unival \
    --task=caption --selected-cols=0,4,2 --dict-path=$d/dict.txt --image-dir=$d --patch-image-size=64 \
    --max-src-length=80 --max-tgt-length=20 --eval-cider \
    "--eval-args=$EA" \
    --best-checkpoint-metric=cider --maximize-best-checkpoint-metric \
    --criterion=adjust_label_smoothed_cross_entropy --label-smoothing=0.0 --drop-worst-ratio=0.0 \
    --arch=unival_tiny --encoder-normalize-before --decoder-normalize-before --share-decoder-input-output-embed \
    --share-all-embeddings --layernorm-embedding --patch-layernorm-embedding --code-layernorm-embedding \
    --add-type-embedding --scale-attn --scale-fc --scale-heads --disable-entangle --resnet-drop-path-rate=0.0 \
    --encoder-drop-path-rate=0.0 --decoder-drop-path-rate=0.0 --dropout=0.0 --attention-dropout=0.0 \
    --optimizer=adam '--adam-betas=(0.9,0.999)' --adam-eps=1e-08 --weight-decay=0.01 --clip-norm=1.0 \
    --lr-scheduler=polynomial_decay_warmup_ratio --end-learning-rate=0.0 --warmup-ratio=0.06 \
    --no-save --validate-interval=1000 --validate-interval-updates=${VALI:-500} \
    --save-dir=$W/ck_$name --batch-size=$bsz --lr=$lr --max-epoch=1000 --max-update=${MAXUPD:-$UPD} --total-num-update=${MAXUPD:-$UPD} \
    --ignore-unused-valid-subsets --log-format=simple --log-interval=250 --num-workers=2 --seed=1 "$@" \
    > $OUT/logs/$name.log 2>&1
  echo "done $name rc=$?"
}
run s20 s20 5e-4 16 &
NRNG0=1 run s20_nrng0b s20 5e-4 16 &
run s25 s25 5e-4 16 &
run s28 s28 5e-4 16 &
NRNG0=1 run s25_nrng0 s25 5e-4 16 &
run s25_bsz32 s25 7e-4 32 &
run s25_l222 s25 5e-4 16 --resnet-layers=2,2,2 &
run s25_lr25 s25 2.5e-4 16 &
wait
python3 - <<'PY'
import glob, os, re
for f in sorted(glob.glob(os.environ["OUT"] + "/logs/*.log")):
    text = open(f).read()
    vals = re.findall(r"valid on 'valid' subset \| loss ([\d.]+).*?\| cider ([\d.]+).*?num_updates (\d+)", text)
    trains = re.findall(r"train_inner .*?loss=([\d.]+).*?num_updates=(\d+)", text)
    err = [l for l in text.splitlines() if "Error" in l][:2]
    print(os.path.basename(f), "valid(upd:loss/cider):", " ".join(f"{u}:{l}/{c}" for l, c, u in vals),
          "| last train:", trains[-1] if trains else None, err)
PY
