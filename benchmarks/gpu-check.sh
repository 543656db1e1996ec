#!/usr/bin/env bash
# Builds the GPU backend and runs its test suite on a real device (default cuda:0).
# Usage: benchmarks/gpu-check.sh [cuda:0|opencl:0]
set -euo pipefail
cd "$(dirname "$0")/.."
device="${1:-cuda:0}"
dotnet build tests/PeftEngine.Gpu.Tests -c Release
PEFTENGINE_GPU_TEST_DEVICE="$device" dotnet test tests/PeftEngine.Gpu.Tests -c Release --no-build \
  --logger "console;verbosity=normal"
