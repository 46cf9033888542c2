#!/usr/bin/env bash
# GPU check (scripts/gpu_check.py) on a machine with JAX or PyTorch and no TensorFlow, in one command of at
# most 8 minutes. Exit 2: no GPU visible.
#   bash scripts/gpu_check.sh --prepare    # here: wheels + a small copy of the shared assets into .gpu_check/
#   bash scripts/gpu_check.sh [options]    # there (with .gpu_check/ carried): installs the wheels, runs the check
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=.gpu_check
if [ "${1:-}" = "--prepare" ]; then
  shift
  exec "${PYTHON:-.venv/bin/python}" scripts/gpu_check.py --prepare "$STAGE" "$@"
fi
PY="${PYTHON:-python3}"
if [ -d "$STAGE/wheels" ] && ! "$PY" -c "import keras, lime" 2>/dev/null; then
  # What the machine lacks, without dependencies: it has numpy, scipy, pandas, scikit-image and the rest.
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site \
    "$STAGE"/wheels/*.whl
  export PYTHONPATH="/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -d "$STAGE/shared" ] && [ -z "${ADVISE_BENCH_SHARED:-}" ]; then
  export ADVISE_BENCH_SHARED="$PWD/$STAGE/shared"
fi
export PYTHONUNBUFFERED=1
exec timeout 480 "$PY" scripts/gpu_check.py "$@"
