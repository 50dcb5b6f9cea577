#!/usr/bin/env bash
# Measurement AL (README.md): the c48 screener picking its own poses (atomgrid score's default) against the pose
# model's picks (every card figure).
#   rule_al.sh runs      A: rule X's seeds 10, 11 on v34 (core 1: seed 11; core 0: B, then seed 10), one thread each
#   rule_al.sh v34 SEED  one of A's runs
#   rule_al.sh compare   atomgrid compare, self-pick vs the committed pose-model runs, dude:mapk2 out (seeds averaged
#                        and per seed)
# In session 37 seed 10's last six targets (TK ... uPA) were posed and scored first by a second process on the free core
# (`v34 10` with `--only TK TP TPA TS dude:mapk2 uPA` into a scratch JSON); the full run then read them from the cache.
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
x=campaigns/atomgrid-affinity/rule-x
v4=atomgrid/models/ag-atomnet-c48-l3-g16r15-dekois-v4.pt
common=(--max-decoys 200 --embed-timeout 30 --threads 1 --rotations 16 --skip-vina)
case ${1:-}:$# in
  v34:2)  # the rule-X model of seed $2 picks its own poses on v34
    "$bin" crossval --validation --validation-group v34 --model "$x/c48-s$2-final-v34.pt" --pose-model "$x/c48-s$2-final-v34.pt" \
      "${common[@]}" --json "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s$2-selfpick.json" ;;
  runs:1)
    mkdir -p runs/atomgrid/al
    OMP_NUM_THREADS=1 taskset -c 1 "$0" v34 11 > runs/atomgrid/al/s11.log 2>&1 &
    (OMP_NUM_THREADS=1 taskset -c 0 "$bin" crossval --validation --model "$v4" --pose-model "$v4" "${common[@]}" \
       --json "$R/atomgrid_crossval-validation11-rot16-selfpick-ag-atomnet-c48-l3-g16r15-dekois-v4.json" \
     && OMP_NUM_THREADS=1 taskset -c 0 "$0" v34 10) > runs/atomgrid/al/s10.log 2>&1 &
    wait ;;
  compare:1)
    "$bin" compare "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s10-selfpick.json" \
      "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s11-selfpick.json" \
      --vs "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s10.json" "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s11.json" \
      --exclude-targets dude:mapk2 --json "$R/atomgrid_compare-validation34-c48-selfpick-vs-posemodel.json"
    for s in 10 11; do
      "$bin" compare "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s$s-selfpick.json" \
        --vs "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s$s.json" --exclude-targets dude:mapk2 \
        --json "$R/atomgrid_compare-validation34-c48-selfpick-vs-posemodel-s$s.json"
    done
    "$bin" compare "$R/atomgrid_crossval-validation11-rot16-selfpick-ag-atomnet-c48-l3-g16r15-dekois-v4.json" \
      --vs "$R/atomgrid_crossval-validation11-rot16-blend-ag-atomnet-c48-l3-g16r15-dekois-v4.json" \
      --exclude-targets dude:mapk2 --json "$R/atomgrid_compare-validation11-selfpick-vs-posemodel-ag-atomnet-c48-l3-g16r15-dekois-v4.json" ;;
  *) echo "usage: $0 runs | v34 SEED | compare" >&2; exit 2 ;;
esac
