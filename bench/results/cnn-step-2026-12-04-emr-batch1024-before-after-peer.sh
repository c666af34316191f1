#!/bin/bash
# The bench's own child (ours, old and new build) and TorchSharp peer commands, alternated, same settings as bench cnn.
NEW=bench/ScratchNet.Bench/bin/Release/net10.0/ScratchNet.Bench.dll
OLD=/tmp/bench-old/ScratchNet.Bench.dll
TS=~/.cache/scratchnet/peers/torchsharp-cnn/bin/Release/net10.0/linux-x64/TorchSharpCnn
for config in experiments/cifar10-cnn-quick.json experiments/cifar10-cnn.json; do
  for round in 1 2; do
    echo "$config round $round before(c20cf77) $(timeout 300 dotnet $OLD cnn-child $config 1024 2 20)"
    echo "$config round $round after(head) $(timeout 300 dotnet $NEW cnn-child $config 1024 2 20)"
    echo "$config round $round libtorch-2.10 $(timeout 300 $TS train $config 1024 2 channels_last 20)"
  done
done
