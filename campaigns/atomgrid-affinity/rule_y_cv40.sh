#!/usr/bin/env bash
# Rule Y's CV40 (campaigns/atomgrid-affinity/README.md), once the five c48 fold models exist
# (fold_lane.sh foldK v34 configs/atomgrid/small_c48.toml configs/atomgrid/crossval_sf08_wd05_16k_clean_c48.toml c48-cv):
#   B  measurement M's committed per-fold models re-scored on this checkout's poses, with Vina on the same poses and
#      M2's clean ligand-only twins (the baseline; ~1 hour on one core, most of it Vina)
#   C  the c48 fold models, the same poses and twins, Vina skipped (its figures are B's, the poses being the same)
#   compare  paired per target, C against B
#   campaigns/atomgrid-affinity/rule_y_cv40.sh B|C|compare
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
M=campaigns/atomgrid-affinity/m
. "$(dirname "$0")/cv40_settings.sh"
common=("${cv40_common[@]}")
case ${1:-} in
  B) "$bin" crossval --model "$M/cvsf08wd16k-clean-{fold}.pt" "${common[@]}" \
       --json $R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c16-rescored.json ;;
  C) for f in 0 1 2 3 4; do [ -f runs/atomgrid/recipe-c48-cv/fold$f/model.pt ] || { echo "fold$f: no model yet" >&2; exit 1; }; done
     "$bin" crossval --model "runs/atomgrid/recipe-c48-cv/{fold}/model.pt" "${common[@]}" --skip-vina \
       --json $R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c48.json ;;
  compare) "$bin" compare $R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c48.json \
             $R/atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c16-rescored.json \
             --json $R/atomgrid_compare-cv40-c48-vs-clean-c16-rescored.json ;;
  *) echo "usage: $0 B|C|compare" >&2; exit 2 ;;
esac
