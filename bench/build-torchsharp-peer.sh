#!/usr/bin/env bash
# Builds the TorchSharp peer (../shared/peers/torchsharp-mlp, read-only there) in the user cache,
# where the train suite looks for it. Downloads about 300 MB of libtorch the first time.
set -euo pipefail
source_dir="${1:-$(dirname "$0")/../../shared/peers/torchsharp-mlp}"
target="$HOME/.cache/scratchnet/peers/torchsharp-mlp"
mkdir -p "$target"
cp -r "$source_dir"/. "$target"/
chmod -R u+w "$target"
dotnet build -c Release "$target"
echo "peer: $target/bin/Release/net10.0/linux-x64/TorchSharpMlp"
