#!/usr/bin/env bash
# One device call (session 14, second): the product-of-experts debiased cross-target models, all six folds.
T0=$(date +%s); BUDGET=${1:-330}; DEV=${2:-cuda}; STEPS=${3:-6000}
OUT=${OUT:-/tmp/devout}; mkdir -p $OUT
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
export PYTHONPATH=$PWD/.dev/stub:$PWD
{ nvidia-smi --query-gpu=name,memory.total --format=csv; nproc; $PY -c "import torch; print(torch.__version__, torch.cuda.is_available())"; } > $OUT/device.txt 2>&1
mkdir -p runs/atomgrid/screen_cv
xz -dc .dev/cache_train.pt.xz > runs/atomgrid/cache_train.pt &
xz -dc .dev/cache_val.pt.xz > runs/atomgrid/cache_val.pt &
xz -dc .dev/cache_crossval.pt.xz > runs/atomgrid/screen_cv/cache_crossval.pt &
wait
ls runs/atomgrid/cvgpu-ligonly/*/model.pt >> $OUT/device.txt 2>&1
echo "unpacked at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
M=$(( (T0 + BUDGET - $(date +%s) - 50) ))
M=$($PY -c "print(round($M/60, 2))")
echo "max_minutes $M, steps $STEPS" >> $OUT/device.txt
$PY -m atomgrid train --config configs/atomgrid/crossval_gpu_poe.toml --fold all --jobs 6 -o train.device=$DEV -o train.steps=$STEPS -o train.max_minutes=$M > $OUT/train_poe.txt 2>&1
echo "trained at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
tar czf $OUT/models.tgz runs/atomgrid/cvgpu-poe/*/{model.pt,summary.json,config.toml,metrics.jsonl,train.log} 2>> $OUT/device.txt
echo "packed at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
