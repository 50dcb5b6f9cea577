# The two affinity validation sets every pK rule is judged on (sourced by rule_aa.sh, rule_af.sh, contact_rule.sh):
# eval_sets MODEL NAME evaluates MODEL on val-affinity (77) and the 2,910 protocol actives at 16 rotations, one thread,
# writing $R/atomgrid_evaluate-<set>-rot16-NAME.json. Needs $bin and $R set.
affinity_sets=(valaffinity activesprotocol)
affinity_cache() {  # the cache of one set
  if [ "$1" = activesprotocol ]; then echo runs/atomgrid/screen_cv/cache_actives_protocol.pt
  else echo runs/atomgrid/cache_val_affinity.pt; fi
}
eval_sets() {
  for set in "${affinity_sets[@]}"; do
    "$bin" evaluate --model "$1" --set cache --cache "$(affinity_cache $set)" --rotations 16 --no-baseline --threads 1 \
      --json "$R/atomgrid_evaluate-$set-rot16-$2.json"
  done
}
