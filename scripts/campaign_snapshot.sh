#!/usr/bin/env bash
# Copy what a later session needs to continue a training run into campaigns/<name>/ (committed):
# the resolved config, split, metrics, runtime, read report and the newest checkpoint (net, optimizer,
# schedule, step, RNG, stream position) - not the replay/shuffle buffers, which are rebuilt.
#   bash scripts/campaign_snapshot.sh runs/go19-sl
# Continue later with:  .venv/bin/selfplay supervised --resume campaigns/go19-sl [--set train.total_steps=N]
# (Self-play checkpoints hold the replay buffer; strip it before committing one of those.)
set -euo pipefail
src=${1:?usage: campaign_snapshot.sh RUN_DIR}
name=$(basename "$src")
dst="campaigns/$name"
latest=$(ls "$src"/checkpoints/ckpt_*.pt | sort | tail -1)
mkdir -p "$dst/checkpoints"
rm -f "$dst"/checkpoints/ckpt_*.pt
for f in config.toml split.json metrics.jsonl runtime.json read_report.json report.png report.txt games.txt model.pt; do
  [ -f "$src/$f" ] && cp "$src/$f" "$dst/$f"
done
cp "$latest" "$dst/checkpoints/"
cp "$src/checkpoints/checkpoints.json" "$dst/checkpoints/" 2>/dev/null || true
echo "snapshot of $src at $(basename "$latest") in $dst ($(du -sh "$dst" | cut -f1))"
