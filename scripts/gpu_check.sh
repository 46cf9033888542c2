#!/usr/bin/env bash
# GPU vs CPU check (maps, metrics, s/image per method); see scripts/gpu_check.py. Exit 2 without a GPU.
# Budget: about 8 minutes on one GPU machine. Usage: bash scripts/gpu_check.sh [--images 20]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
exec timeout 480 "$PY" scripts/gpu_check.py "$@"
