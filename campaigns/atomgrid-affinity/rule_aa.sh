#!/usr/bin/env bash
# Rule AA (campaigns/atomgrid-affinity/README.md): a contact-count tree pK model (T) and its mean with the shipped
# pair (T2), judged against the pair on val-affinity (77) and the 2,910 protocol actives:
#   campaigns/atomgrid-affinity/rule_aa.sh train      runs/atomgrid/contacts-gbt-rec/model.pt (~30 s)
#   campaigns/atomgrid-affinity/rule_aa.sh eval       both sets (rotations recorded as 16 like the pair's; trees ignore them)
#   campaigns/atomgrid-affinity/rule_aa.sh compare    T and T2 against the shipped pair
#   campaigns/atomgrid-affinity/rule_aa.sh casf       once T2 ships: CASF-2016 (130), T and T2 against the pair
# Needs runs/atomgrid/cache_train_rec.pt, cache_val_affinity.pt and runs/atomgrid/screen_cv/cache_actives_protocol.pt.
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
run=runs/atomgrid/contacts-gbt-rec
. "$(dirname "$0")/affinity_sets.sh"
case ${1:-} in
  train) "$bin" contacts-train --cache runs/atomgrid/cache_train_rec.pt -o $run/model.pt --name ag-contacts-gbt-rec \
           --json $R/atomgrid_contacts_train-gbt-rec.json ;;
  eval) eval_sets $run/model.pt contacts-gbt-rec ;;
  compare) for set in valaffinity activesprotocol; do
             "$bin" compare $R/atomgrid_evaluate-$set-rot16-contacts-gbt-rec.json \
               --vs $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1}.json \
               --json $R/atomgrid_compare-$set-contacts-gbt-vs-pose-rec.json
             "$bin" compare $R/atomgrid_evaluate-$set-rot16-contacts-gbt-rec.json $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1}.json \
               --vs $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1}.json \
               --json $R/atomgrid_compare-$set-contacts-gbt-pair-vs-pose-rec.json
           done ;;
  casf) "$bin" evaluate --model $run/model.pt --set casf2016 --rotations 16 --no-baseline --threads 1 \
          --json $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-rec.json
        "$bin" compare $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-rec.json $R/atomgrid_evaluate-casf2016-rot16-pose-rec-s{0,1}.json \
          --vs $R/atomgrid_evaluate-casf2016-rot16-pose-rec-s{0,1}.json \
          --json $R/atomgrid_compare-casf2016-contacts-gbt-pair-vs-pose-rec.json ;;
  *) echo "usage: $0 train | eval | compare | casf" >&2; exit 2 ;;
esac
