#!/usr/bin/python3
"""PyTorch peer for `bench conv`: GFLOP/s of one convolution's forward, backward-data and backward-weights on the CPU.

Usage: /usr/bin/python3 bench/conv_peer.py BATCH C H W OC KERNEL PADDING THREADS SECONDS
Prints one JSON object per pass: {"pass", "layout", "gflops", "torch", "mkldnn"} for the better of NCHW and
channels_last (both are timed; each its best of 5 windows after a warm-up). Float32, stride 1, dilation 1, no bias
(the bias is a negligible share of the work); backward through aten.convolution_backward with one output asked
for, so each half is timed alone.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F

batch, c, h, w, oc, kernel, padding, threads = (int(v) for v in sys.argv[1:9])
seconds = float(sys.argv[9])
torch.set_num_threads(threads)
torch.manual_seed(0)
oh, ow = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1
flops = 2.0 * batch * oc * oh * ow * c * kernel * kernel


def timed(step):
    """Seconds per call: the best of 5 windows after a warm-up of at least 0.5 s."""
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < 0.5 or calls < 3:
        step()
        calls += 1
    per_window = max(1, int(calls / (time.perf_counter() - start) * seconds / 5))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_window):
            step()
        best = min(best, (time.perf_counter() - start) / per_window)
    return best


results = {}
for layout, fmt in (("NCHW", torch.contiguous_format), ("channels_last", torch.channels_last)):
    x = torch.randn(batch, c, h, w).to(memory_format=fmt)
    weight = torch.randn(oc, c, kernel, kernel).to(memory_format=fmt)
    dy = torch.randn(batch, oc, oh, ow).to(memory_format=fmt)
    args = ([0], [1, 1], [padding, padding], [1, 1], False, [0, 0], 1)
    with torch.no_grad():
        passes = {
            "forward": lambda: F.conv2d(x, weight, None, 1, padding),
            "backward-data": lambda: torch.ops.aten.convolution_backward(dy, x, weight, *args, [True, False, False]),
            "backward-weights": lambda: torch.ops.aten.convolution_backward(dy, x, weight, *args, [False, True, False]),
        }
        for name, step in passes.items():
            gflops = flops / timed(step) / 1e9
            if name not in results or gflops > results[name]["gflops"]:
                results[name] = {"pass": name, "layout": layout, "gflops": round(gflops, 2)}
for name, line in results.items():
    line.update(torch=torch.__version__, mkldnn=torch.backends.mkldnn.is_available())
    print(json.dumps(line))
