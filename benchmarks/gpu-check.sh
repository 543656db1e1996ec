#!/usr/bin/env bash
# On a machine with a GPU: builds, checks that the device opens, runs the GPU backend's test suite on it (GEMMs
# once more with our own kernel instead of cuBLAS), then prints throughput: GEMM TFLOP/s (ours and cuBLAS),
# fused attention forward and forward+backward, a GPT-2 small training step's tokens/s. Under 5 minutes on an
# H100/H200-class GPU. Record the numbers in docs/PERFORMANCE.md.
# Usage: benchmarks/gpu-check.sh [cuda:0|opencl:0]
# Without a usable device it stops after the build with one line: "gpu-check: cannot open cuda:0: ...".
set -euo pipefail
cd "$(dirname "$0")/.."
device="${1:-cuda:0}"
check=benchmarks/PeftEngine.GpuCheck/bin/Release/net10.0/PeftEngine.GpuCheck.dll
dotnet build benchmarks/PeftEngine.GpuCheck -c Release -nologo -v q -clp:NoSummary
dotnet "$check" "$device" --probe
dotnet build tests/PeftEngine.Gpu.Tests -c Release -nologo -v q -clp:NoSummary
PEFTENGINE_GPU_TEST_DEVICE="$device" dotnet test tests/PeftEngine.Gpu.Tests -c Release --no-build
PEFTENGINE_GPU_TEST_DEVICE="$device" PEFTENGINE_GPU_GEMM=own dotnet test tests/PeftEngine.Gpu.Tests -c Release --no-build \
    --filter "FullyQualifiedName~MatMulTests|FullyQualifiedName~Gemm|FullyQualifiedName~ModelTests"
dotnet "$check" "$device"
