#!/usr/bin/env bash
# Prepares .gpu/ for bench/gpu-check.sh on a GPU machine that has no .NET: a framework-dependent build of
# the bench and the CLI, and the .NET runtime (host + Microsoft.NETCore.App, no SDK) as tar.xz.
# .gpu/ is ignored by git; pass it to the device tool's `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu
dotnet publish -c Release bench/ScratchNet.Bench -o .gpu/bench --no-self-contained -v q -nologo
if [ "${WITH_CLI:-1}" = 1 ]; then
  dotnet publish -c Release src/ScratchNet.Cli -o .gpu/cli --no-self-contained -v q -nologo
  # Natives for other platforms are dead weight on the linux-x64 GPU machine.
  find .gpu/cli/runtimes -mindepth 1 -maxdepth 1 ! -name 'linux-x64' -exec rm -rf {} + 2>/dev/null || true
fi
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls -d "$root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
tar -C "$root" -cJf .gpu/dotnet.tar.xz dotnet host "shared/Microsoft.NETCore.App/$(basename "$runtime")"
du -sh .gpu/* | sort -h
