#!/usr/bin/env bash
# Measurement Y2 (campaigns/atomgrid-affinity/README.md): a second seed of rule Y's c48 recipe for fold1 and fold3
#   campaigns/atomgrid-affinity/y2.sh train     the two recipes, seed 1, from rule Y's fold pose models (~40 min each)
#   campaigns/atomgrid-affinity/y2.sh score     the two folds' 15 scored CV targets, as rule Y's C (same poses, twins)
#   campaigns/atomgrid-affinity/y2.sh compare   seed 1 against rule Y's seed 0, and both seeds against B (c16 recipe)
#   campaigns/atomgrid-affinity/y2.sh train-c16 / score-c16 / compare-c16   Y2b: fold1's c16 pose model (seed 0, a new
#       draw) and the clean c16 recipe from it with seed 1 (~30 min), its 11 targets, against M's seed 0 (B)
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
M=campaigns/atomgrid-affinity/m
T1=AR,ER-beta,FKBP1A,GBA,GR,PI3Kg,PPARA,PPARG,PR,RXR,dude:glcm
T=$T1,ALR2,BCL2,HIV1RT,NA
S0=$R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c48.json
S1=$R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c48-s1-fold1fold3.json
B=$R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c16-rescored.json
# rule Y's C settings (rule_y_cv40.sh): the same poses, clean twins, 16 rotations, Vina's figures being B's
. "$(dirname "$0")/cv40_settings.sh"
common=("${cv40_common[@]}" --skip-vina)
case ${1:-} in
  train) for fold in fold1 fold3; do
           [ -f runs/atomgrid/recipe-c48-cv-s1/$fold/model.pt ] && continue
           "$bin" train --config configs/atomgrid/crossval_sf08_wd05_16k_clean_c48.toml --fold $fold \
             --validation-group v34 -o train.max_minutes=0 -o train.threads=1 -o train.seed=1 \
             -o run_dir=runs/atomgrid/recipe-c48-cv-s1 -o train.init="runs/atomgrid/pose-c48-cv/{fold}/model.pt" --resume
         done ;;
  score) "$bin" crossval --model "runs/atomgrid/recipe-c48-cv-s1/{fold}/model.pt" "${common[@]}" --only ${T//,/ } \
           --json "$S1" ;;
  compare) "$bin" compare "$S1" "$S0" --targets $T --json $R/atomgrid_compare-cv40-fold1fold3-c48-s1-vs-s0.json
           "$bin" compare "$S1" "$S0" --vs "$B" --targets $T --json $R/atomgrid_compare-cv40-fold1fold3-c48-s0s1-vs-clean-c16-rescored.json
           "$bin" compare "$S0" "$B" --targets $T --json $R/atomgrid_compare-cv40-fold1fold3-c48-s0-vs-clean-c16-rescored.json ;;
  train-c16)
    [ -f runs/atomgrid/pose-c16-cv/fold1/model.pt ] || "$bin" train --config configs/atomgrid/small.toml --fold fold1 \
      --validation-group v34 -o train.max_minutes=0 -o train.threads=1 -o train.seed=0 -o run_dir=runs/atomgrid/pose-c16-cv --resume
    [ -f runs/atomgrid/recipe-c16-cv-s1/fold1/model.pt ] || "$bin" train --config configs/atomgrid/crossval_sf08_wd05_16k_clean.toml \
      --fold fold1 --validation-group v34 -o train.max_minutes=0 -o train.threads=1 -o train.seed=1 \
      -o run_dir=runs/atomgrid/recipe-c16-cv-s1 -o train.init="runs/atomgrid/pose-c16-cv/{fold}/model.pt" --resume ;;
  score-c16) "$bin" crossval --model "runs/atomgrid/recipe-c16-cv-s1/{fold}/model.pt" "${common[@]}" --only ${T1//,/ } \
           --json $R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c16-s1-fold1.json ;;
  compare-c16) "$bin" compare $R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c16-s1-fold1.json "$B" --targets $T1 \
                 --json $R/atomgrid_compare-cv40-fold1-c16-s1-vs-clean-c16-rescored.json ;;
  *) echo "usage: $0 train|score|compare|train-c16|score-c16|compare-c16" >&2; exit 2 ;;
esac
