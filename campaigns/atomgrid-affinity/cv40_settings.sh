# Rule Y's CV40 crossval settings (sourced by rule_y_cv40.sh and y2.sh): the protocol's poses (pose model
# ag-atomnet-c16-l3-g16r15, 200 decoys a target), the clean twins, 16 rotations, one thread. Needs $M set.
cv40_common=(--validation-group v34 --pose-model ag-atomnet-c16-l3-g16r15 --max-decoys 200 --embed-timeout 30 --threads 1
             --rotations 16 --ligand-only-model "$M/cvsf08wd16k-clean-ligonly-{fold}.pt")
