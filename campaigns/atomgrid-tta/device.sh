#!/usr/bin/env bash
# One device call (session 14): gpu tests with RDKit, and 12 cross-target trainings at once:
# the 8k recipe with seed 2 for every fold, and the 24^3 x 1.0 A grid from scratch for every fold.
T0=$(date +%s); BUDGET=${1:-520}; DEV=${2:-cuda}
OUT=${OUT:-/tmp/devout}; mkdir -p $OUT
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl > $OUT/pip.txt 2>&1
export PYTHONPATH=/tmp/site:$PWD
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; $PY -c "import torch, rdkit; print(torch.__version__, torch.cuda.is_available(), rdkit.__version__)"; } > $OUT/device.txt 2>&1
mkdir -p runs/atomgrid/screen_cv
xz -dc .dev/cache_train.pt.xz > runs/atomgrid/cache_train.pt &
xz -dc .dev/cache_val.pt.xz > runs/atomgrid/cache_val.pt &
xz -dc .dev/cache_crossval.pt.xz > runs/atomgrid/screen_cv/cache_crossval.pt &
wait
echo "unpacked at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
M=$(( (T0 + BUDGET - $(date +%s) - 75) ))
M=$($PY -c "print(round($M/60, 2))")
echo "max_minutes $M" >> $OUT/device.txt
$PY -m atomgrid train --config configs/atomgrid/crossval_gpu.toml --fold all --jobs 6 -o train.device=$DEV -o train.seed=2 -o 'run_dir="runs/atomgrid/cvgpu-s2"' -o train.max_minutes=$M > $OUT/train_s2.txt 2>&1 &
$PY -m atomgrid train --config configs/atomgrid/crossval_gpu_g24.toml --fold all --jobs 6 -o train.device=$DEV -o train.max_minutes=$M > $OUT/train_g24.txt 2>&1 &
if [ "$DEV" = cuda ]; then
  timeout 200 $PY -m pytest -m gpu -q -p no:cacheprovider tests/test_cuda_paths.py tests/test_atomgrid_grid.py tests/test_traincore.py > $OUT/gpu_tests.txt 2>&1
  echo "gpu tests exit $? at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
fi
wait
echo "trained at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
tar czf $OUT/models.tgz runs/atomgrid/cvgpu-s2/*/{model.pt,summary.json,config.toml,metrics.jsonl,train.log} runs/atomgrid/cvgpu-g24/*/{model.pt,summary.json,config.toml,metrics.jsonl,train.log} 2>> $OUT/device.txt
echo "packed at $(( $(date +%s) - T0 )) s" >> $OUT/device.txt
