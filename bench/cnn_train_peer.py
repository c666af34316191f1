#!/usr/bin/python3
"""PyTorch peer for `bench cnn`: images/s of one training step of a ScratchNet CNN recipe on the CPU.

Usage: /usr/bin/python3 bench/cnn_train_peer.py CONFIG.json BATCH THREADS LAYOUT SECONDS
CONFIG is a ScratchNet run configuration with a `network` layer list (experiments/cifar10-cnn*.json); the network is
built by tools/interop/load_in_torch.py (the same modules a saved model loads into), without the final softmax: the
loss is torch's cross-entropy on the logits with the recipe's label smoothing. LAYOUT is NCHW or channels_last. The
step is the recipe's: forward, loss, backward through autograd, torch.optim.SGD with Nesterov momentum and the
recipe's (coupled) weight decay. Synthetic data (CIFAR-shaped). Prints one JSON object: images_per_s (the best of
the timed windows after two warm-up steps), peak_rss_mb, layout, torch, mkldnn.
"""
import importlib.util
import json
import os
import resource
import sys
import time

import torch

config_path, batch, threads, layout, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("load_in_torch", os.path.join(here, "..", "tools", "interop", "load_in_torch.py"))
interop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(interop)

with open(config_path) as f:
    config = json.load(f)
layers = [{k: v for k, v in layer.items() if k != "init"} for layer in config["network"]]
if layers[-1]["type"] == "softmax":
    layers = layers[:-1]
net, _ = interop.build({"layers": json.dumps(layers), "dtype": "float32"})
fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
net = net.to(memory_format=fmt).train()
trainable = [p for p in net.parameters() if p.requires_grad]
optimizer = torch.optim.SGD(trainable, lr=config["lr"], momentum=config.get("momentum", 0.9), nesterov=config.get("optimizer") == "nesterov",
                            weight_decay=config.get("weight_decay", 0))
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.get("label_smoothing", 0))
x = torch.randn(batch, 3, 32, 32).to(memory_format=fmt)
y = torch.randint(0, 10, (batch,))


def step():
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(net(x), y)
    loss.backward()
    optimizer.step()


for _ in range(2):
    step()
best, start = float("inf"), time.perf_counter()
while time.perf_counter() - start < seconds or best == float("inf"):
    began = time.perf_counter()
    step()
    best = min(best, time.perf_counter() - began)
print(json.dumps({"images_per_s": round(batch / best, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "layout": layout, "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available()}))
