#!/usr/bin/env bash
# One entry point for the README's two commands.
#   bash scripts/run.sh demo   set up .venv, then a short Connect Four self-play training run (local Ray)
#   bash scripts/run.sh test   set up .venv, then the test suite (all but `slow` and `gpu` tests)
#   bash scripts/run.sh test-all | setup
# Idempotent: the venv and the package are reinstalled only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.setup-stamp
TORCH_PIN=${TORCH_PIN:-torch==2.13.0}   # the CPU wheel here, the CUDA wheel on a GPU machine

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $TORCH_PIN ${GRIDNETS_EXTRAS:-}"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "import traincore, torch" 2>/dev/null; then
    return 0
  fi
  echo "[setup] installing $TORCH_PIN and the package (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q "$TORCH_PIN"
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  if [ -n "${GRIDNETS_EXTRAS:-}" ]; then   # e.g. GRIDNETS_EXTRAS=dock: Vina and meeko for the `external` Vina tests
    "$VENV/bin/python" -m pip install -q -e ".[dev,$GRIDNETS_EXTRAS]" \
      || echo "[setup] could not install the extras $GRIDNETS_EXTRAS; their tests will skip"
  fi
  echo "$want" > "$STAMP"
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  setup) setup ;;
  demo)
    setup
    exec "$VENV/bin/selfplay" train --config configs/connect4_quick.toml "$@" ;;
  test)
    setup
    exec "$VENV/bin/python" -m pytest -m "not slow and not gpu" -q "$@" ;;
  test-all)
    setup
    exec "$VENV/bin/python" -m pytest -m "not gpu" -q "$@" ;;
  *) echo "usage: bash scripts/run.sh [demo|test|test-all|setup] [args...]" >&2; exit 2 ;;
esac
