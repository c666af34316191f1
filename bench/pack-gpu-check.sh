#!/usr/bin/env bash
# Prepares .gpu/ for bench/gpu-check.sh on a GPU machine that has no .NET: the .NET runtime (host +
# Microsoft.NETCore.App, no SDK) as tar.xz, and, as asked, a framework-dependent build of the bench
# (WITH_BENCH=1, default), of the CLI as tar.xz (WITH_CLI=1), and Fashion-MNIST's training files
# (WITH_DATA=DIR holding fashion-mnist/train-*.gz). The device tool carries at most 64 MiB in all.
# .gpu/ is ignored by git; pass it to the device tool's `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls -d "$root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
tar -C "$root" -cJf .gpu/dotnet.tar.xz dotnet host "shared/Microsoft.NETCore.App/$(basename "$runtime")"
if [ "${WITH_BENCH:-1}" = 1 ]; then
  dotnet publish -c Release bench/ScratchNet.Bench -o .gpu/bench --no-self-contained -v q -nologo
fi
if [ "${WITH_CLI:-0}" = 1 ]; then
  staging=$(mktemp -d)
  dotnet publish -c Release src/ScratchNet.Cli -o "$staging/cli" --no-self-contained -v q -nologo
  # Natives for other platforms are dead weight on the linux-x64 GPU machine.
  find "$staging/cli/runtimes" -mindepth 1 -maxdepth 1 ! -name 'linux-x64' -exec rm -rf {} +
  tar -C "$staging" -cJf .gpu/cli.tar.xz cli
  rm -rf "$staging"
fi
if [ -n "${WITH_DATA:-}" ]; then
  mkdir -p .gpu/data/fashion-mnist
  cp "$WITH_DATA"/fashion-mnist/train-*-ubyte.gz .gpu/data/fashion-mnist/
fi
du -sh .gpu/* | sort -h
du -sh .gpu
