#!/usr/bin/env bash
# The GPU check, one script for one short lease of a GPU machine (CUDA, PyTorch, Python; no .NET):
#   1. unpacks the carried .NET runtime (bench/pack-gpu-check.sh makes .gpu/ here first),
#   2. runs PyTorch's loops on the GPU (bench/gpu_peer.py),
#   3. runs ScratchNet's GPU suite: every kernel and 20-step trainings against the CPU, then samples/s
#      against the PyTorch numbers (bench/ScratchNet.Bench gpu),
#   4. trains through the CLI on the GPU (scratchnet info; train --device cuda), when .gpu/cli is there.
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
  log "PyTorch peer"
  PYTHONUNBUFFERED=1 timeout 240 python3 bench/gpu_peer.py ${QUICK:+--quick} 2>&1 | tee "$out/peer.jsonl"
fi

log "ScratchNet GPU suite ($device)"
timeout 300 dotnet .gpu/bench/ScratchNet.Bench.dll gpu --device "$device" --peer "$out/peer.jsonl" 2>&1 | tee "$out/gpu.jsonl"
suite=${PIPESTATUS[0]}
log "suite exit code $suite"

if [ -f .gpu/cli/ScratchNet.Cli.dll ]; then
  log "CLI on the device"
  timeout 60 dotnet .gpu/cli/ScratchNet.Cli.dll info 2>&1 | tee -a "$out/summary.txt"
  if [ "$device" = cuda ]; then
    timeout 120 dotnet .gpu/cli/ScratchNet.Cli.dll train --dataset digits --device cuda --epochs 20 --batch-size 1 --out /tmp/gpu-run 2>&1 | tee "$out/cli-train.txt"
  fi
fi

log "results"
grep -h '"summary"' "$out/gpu.jsonl" | tee -a "$out/summary.txt"
grep -h '"suite":"gpu",\|"suite":"gpu-digits"' "$out/gpu.jsonl" | tee -a "$out/summary.txt"
grep -h '"passed":false' "$out/gpu.jsonl" | head -20 | tee -a "$out/summary.txt"
exit "$suite"
