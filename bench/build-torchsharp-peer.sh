#!/usr/bin/env bash
# Builds the TorchSharp peers in the user cache, where the bench looks for them: the MLP one
# (../shared/peers/torchsharp-mlp, read-only there; bench train) and the CNN one (bench/torchsharp-cnn;
# bench conv and bench cnn), which takes the MLP peer's libstdc++ patch. Downloads about 300 MB of
# libtorch the first time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source_dir="${1:-$here/../../shared/peers/torchsharp-mlp}"
peers="$HOME/.cache/scratchnet/peers"
mkdir -p "$peers/torchsharp-mlp" "$peers/torchsharp-cnn"
cp -r "$source_dir"/. "$peers/torchsharp-mlp"/
cp -r "$here/torchsharp-cnn"/. "$peers/torchsharp-cnn"/
chmod -R u+w "$peers/torchsharp-mlp" "$peers/torchsharp-cnn"
dotnet build -c Release "$peers/torchsharp-mlp"
dotnet build -c Release "$peers/torchsharp-cnn" -p:GlibcxxFix="$peers/torchsharp-mlp/glibcxx_fix/weaken_verneed.py"
echo "peer: $peers/torchsharp-mlp/bin/Release/net10.0/linux-x64/TorchSharpMlp"
echo "peer: $peers/torchsharp-cnn/bin/Release/net10.0/linux-x64/TorchSharpCnn"
