#!/usr/bin/env bash
# The GPU check, one script for one short lease of a GPU machine (CUDA, PyTorch, Python; no .NET):
#   1. unpacks the carried .NET runtime (bench/pack-gpu-check.sh makes .gpu/ here first),
#   2. runs PyTorch's loops on the GPU (bench/gpu_peer.py),
#   3. runs ScratchNet's GPU suite: every layer's device half and 20-step trainings with every optimiser and a small CNN against the CPU,
#      then samples/s of the report's networks and images/s of airbench94's training step against the PyTorch numbers (bench/ScratchNet.Bench gpu),
#   4. with .gpu/cli.tar.xz: scratchnet info --check, and a digits run with --device cuda;
#   5. with .gpu/data: the report's Fashion-MNIST experiment (784-800-300-10, batch 1, 50 epochs) on the GPU.
# Stages whose inputs were not packed (bench/pack-gpu-check.sh) are skipped.
# Results go to $OUT (the device tool's folder) or /tmp/gpu-check. DEVICE=simulator dry-runs it without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
device=${DEVICE:-cuda}
log() { echo "== $*" | tee -a "$out/summary.txt"; }

if ! command -v dotnet >/dev/null || [ -n "${FORCE_CARRIED_RUNTIME:-}" ]; then
  mkdir -p /tmp/dotnet && tar -xJf .gpu/dotnet.tar.xz -C /tmp/dotnet || { log "no .NET runtime (.gpu/dotnet.tar.xz)"; exit 1; }
  export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet --list-runtimes | tee -a "$out/summary.txt"

if [ "$device" = cuda ]; then
  # ILGPU opens "libcuda.so"; drivers in containers often ship only libcuda.so.1.
  lib=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
  [ -z "$lib" ] && lib=$(find / -xdev -name 'libcuda.so.1' 2>/dev/null | head -1)
  if [ -n "$lib" ]; then mkdir -p /tmp/cudalib && ln -sf "$lib" /tmp/cudalib/libcuda.so && export LD_LIBRARY_PATH=/tmp/cudalib:${LD_LIBRARY_PATH:-}; fi
  log "libcuda: ${lib:-not found}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv | tee -a "$out/summary.txt"
fi

suite=0
if [ -d .gpu/bench ]; then
  if [ "$device" = cuda ]; then
    log "PyTorch peer"
    PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu_peer.py ${QUICK:+--quick} --cnn 2>&1 | tee "$out/peer.jsonl"
  fi
  log "ScratchNet GPU suite ($device)"
  timeout 300 dotnet .gpu/bench/ScratchNet.Bench.dll gpu --device "$device" --peer "$out/peer.jsonl" 2>&1 | tee "$out/gpu.jsonl"
  suite=${PIPESTATUS[0]}
  log "suite exit code $suite"
  grep -h '"summary"' "$out/gpu.jsonl" | tee -a "$out/summary.txt"
  grep -h '"suite":"gpu",\|"suite":"gpu-digits"\|"suite":"gpu-kernels"' "$out/gpu.jsonl" | tee -a "$out/summary.txt"
  grep -h '"passed":false' "$out/gpu.jsonl" | head -20 | tee -a "$out/summary.txt"
fi

if [ -f .gpu/cli.tar.xz ]; then
  mkdir -p /tmp/scratchnet && tar -xJf .gpu/cli.tar.xz -C /tmp/scratchnet
  cli="dotnet /tmp/scratchnet/cli/ScratchNet.Cli.dll"
  log "scratchnet info --check"
  timeout 120 $cli info $([ "$device" = cuda ] && echo --check) 2>&1 | tee -a "$out/summary.txt"
  log "scratchnet train (digits, --device $device)"
  timeout 120 $cli train --device "$device" --out /tmp/runs/digits 2>&1 | grep -E "^(# (device|final)|error)" | tee -a "$out/summary.txt"
  if [ -d .gpu/data/fashion-mnist ]; then
    log "the report's Fashion-MNIST experiment on the device"
    timeout 420 $cli train --dataset fashion-mnist --data-dir .gpu/data --device "$device" ${FMNIST_EPOCHS:+--epochs $FMNIST_EPOCHS} --out /tmp/runs/fmnist 2>&1 \
      | tee "$out/fmnist.log" | grep -v '^E: ' | tee -a "$out/summary.txt"
    for f in history.csv curves.png summary.md; do cp /tmp/runs/fmnist/$f "$out/fmnist-$f" 2>/dev/null; done
  fi
fi

log "done"
exit "$suite"
