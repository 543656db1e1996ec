#!/usr/bin/env bash
# On a machine with a GPU: builds, runs the GPU backend's test suite on the device, then prints throughput
# (GEMM TFLOP/s, fused attention, a GPT-2 training step's tokens/s). Record the numbers in docs/PERFORMANCE.md.
# Usage: benchmarks/gpu-check.sh [cuda:0|opencl:0]
set -euo pipefail
cd "$(dirname "$0")/.."
device="${1:-cuda:0}"
dotnet build tests/PeftEngine.Gpu.Tests -c Release
dotnet build benchmarks/PeftEngine.GpuCheck -c Release
PEFTENGINE_GPU_TEST_DEVICE="$device" dotnet test tests/PeftEngine.Gpu.Tests -c Release --no-build
dotnet benchmarks/PeftEngine.GpuCheck/bin/Release/net10.0/PeftEngine.GpuCheck.dll "$device"
