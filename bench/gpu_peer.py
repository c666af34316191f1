#!/usr/bin/env python3
"""PyTorch peer for the GPU suite: training samples/s of the report's networks on the same GPU.

Prints one JSON object per line: {"case": "<inputs> batch <b>", "peer": ..., "samples_per_s": ...}.
Two loops per size: the idiomatic one (nn.Sequential + autograd + torch.optim.SGD) and the report's own
loop (hand-written forward and backward on torch tensors, in-place SGD with the L2 penalty), both with
the data resident on the GPU and batches gathered there, as ScratchNet's loop does.
With --cnn (or --cnn-only) it also times airbench94's training step (the network of experiments/cifar10-cnn.json) on
synthetic CIFAR-shaped data at batch 1024, float32 with TF32 off (ScratchNet's arithmetic) and with cuDNN's default TF32,
as the case "airbench94 batch 1024".
Usage: python3 bench/gpu_peer.py [--quick] [--cpu] [--cnn | --cnn-only]
"""
import json
import sys
import time

import torch

QUICK = "--quick" in sys.argv
# --cpu dry-runs the script on a machine without a GPU (the numbers then mean nothing).
DRY_RUN_ON_CPU = "--cpu" in sys.argv


def synchronize():
    if not DRY_RUN_ON_CPU:
        torch.cuda.synchronize()
ROWS = 8192
LR, REG = 2e-4, 1e-4


def timed(step, batch, seconds):
    """Samples/s: the best of 5 windows after a warm-up, synchronising only at window edges."""
    for _ in range(50):
        step()
    synchronize()
    start = time.perf_counter()
    for _ in range(200):
        step()
    synchronize()
    per_window = max(20, int(200 / (time.perf_counter() - start) * seconds / 5))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_window):
            step()
        synchronize()
        best = min(best, (time.perf_counter() - start) / per_window)
    return batch / best


def timed_cnn(step, batch):
    """Images/s of a long step: the best of 5 windows of 5 steps after 5 warm-up steps (cuDNN picks its algorithms in those)."""
    steps = 1 if DRY_RUN_ON_CPU else 5
    for _ in range(steps):
        step()
    synchronize()
    best = float("inf")
    for _ in range(1 if DRY_RUN_ON_CPU else 5):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        best = min(best, (time.perf_counter() - start) / steps)
    return batch / best


def data(inputs, device):
    g = torch.Generator(device="cpu").manual_seed(2)
    x = torch.rand(ROWS, inputs, generator=g).to(device)
    labels = torch.randint(0, 10, (ROWS,), generator=g).to(device)
    order = torch.randperm(ROWS, generator=g).to(device)
    return x, labels, order


def sequential_loop(inputs, batch, device):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(inputs, 800), torch.nn.ReLU(),
        torch.nn.Linear(800, 300), torch.nn.ReLU(),
        torch.nn.Linear(300, 10)).to(device)
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    # The penalty λΣW² has gradient 2λW: weight decay 2λ on the weights only.
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": 2 * REG}, {"params": biases}], lr=LR)
    x, labels, order = data(inputs, device)
    state = {"next": 0}

    def step():
        start = state["next"] if state["next"] + batch <= ROWS else 0
        rows = order[start:start + batch]
        state["next"] = start + batch
        loss = torch.nn.functional.cross_entropy(model(x[rows]), labels[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def report_loop(inputs, batch, device):
    """The course report's loop: its own forward, softmax-CE gradient p - y, backward and SGD, on torch tensors."""
    g = torch.Generator(device="cpu").manual_seed(1)
    sizes = [inputs, 800, 300, 10]
    scales = [0.001, 0.0025, 0.03]
    w = [(torch.randn(sizes[k + 1], sizes[k], generator=g) * scales[k]).to(device) for k in range(3)]
    b = [torch.zeros(sizes[k + 1], device=device) for k in range(3)]
    x, labels, order = data(inputs, device)
    eye = torch.eye(10, device=device)
    state = {"next": 0}

    def step():
        start = state["next"] if state["next"] + batch <= ROWS else 0
        rows = order[start:start + batch]
        state["next"] = start + batch
        a0 = x[rows]
        y = eye[labels[rows]]
        z1 = a0 @ w[0].T + b[0]; a1 = torch.relu(z1)
        z2 = a1 @ w[1].T + b[1]; a2 = torch.relu(z2)
        z3 = a2 @ w[2].T + b[2]
        p = torch.softmax(z3, dim=1)
        d3 = (p - y) / batch
        d2 = (d3 @ w[2]) * (a2 > 0)
        d1 = (d2 @ w[1]) * (a1 > 0)
        for k, (d, a) in enumerate(((d1, a0), (d2, a1), (d3, a2))):
            w[k].mul_(1 - 2 * LR * REG).sub_(LR * (d.T @ a))
            b[k].sub_(LR * d.sum(0))

    return step


CNN = "--cnn" in sys.argv or "--cnn-only" in sys.argv
CNN_BATCH = 2 if DRY_RUN_ON_CPU else 1024


def airbench_loop(device, batch, narrow):
    """airbench94's network and optimiser as ScratchNet's bench builds it (GpuSuite.Airbench): autograd, torch.optim.SGD."""
    widths = (4, 8, 8) if narrow else (64, 256, 256)
    torch.manual_seed(1)
    nn = torch.nn

    def block(inputs, width):
        return [nn.Conv2d(inputs, width, 3, padding="same", bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(width, momentum=0.4, eps=1e-12), nn.GELU(),
                nn.Conv2d(width, width, 3, padding="same", bias=False), nn.BatchNorm2d(width, momentum=0.4, eps=1e-12), nn.GELU()]

    whitening = 12 if narrow else 24
    layers = [nn.Conv2d(3, whitening, 2, bias=False), nn.GELU()]
    previous = whitening
    for width in widths:
        layers += block(previous, width)
        previous = width
    layers += [nn.MaxPool2d(3), nn.Flatten(), nn.Linear(previous, 10)]
    model = nn.Sequential(*layers).to(device).to(memory_format=torch.channels_last)
    model[0].weight.requires_grad = False
    for m in model:
        if isinstance(m, nn.BatchNorm2d):
            m.weight.requires_grad = False
    decay, scale = 0.00133043, 64
    biases = [p for n, p in model.named_parameters() if n.endswith("bias") and p.requires_grad]
    others = [p for n, p in model.named_parameters() if not n.endswith("bias") and p.requires_grad]
    optimizer = torch.optim.SGD([{"params": others, "lr": 0.02, "weight_decay": decay},
                                 {"params": biases, "lr": 0.02 * scale, "weight_decay": decay / scale}], momentum=0.85, nesterov=True)
    g = torch.Generator(device="cpu").manual_seed(5)
    rows = 2 * batch
    x = torch.randn(rows, 3, 32, 32, generator=g).to(device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (rows,), generator=g).to(device)
    state = {"next": 0}

    def step():
        start = state["next"] if state["next"] + batch <= rows else 0
        state["next"] = start + batch
        logits = model(x[start:start + batch]) / 9
        loss = torch.nn.functional.cross_entropy(logits, labels[start:start + batch], label_smoothing=0.2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main():
    if DRY_RUN_ON_CPU:
        device, name = torch.device("cpu"), "cpu (dry run)"
    elif not torch.cuda.is_available():
        print(json.dumps({"error": "PyTorch sees no CUDA device"}))
        return 1
    else:
        device, name = torch.device("cuda"), torch.cuda.get_device_name(0)
    print(json.dumps({"peer_info": f"torch {torch.__version__} on {name}"}), flush=True)
    if CNN:
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            rate = timed_cnn(airbench_loop(device, CNN_BATCH, narrow=DRY_RUN_ON_CPU), CNN_BATCH)
            arithmetic = "TF32 (cuDNN's default)" if tf32 else "float32, TF32 off"
            print(json.dumps({"case": f"airbench94 batch {CNN_BATCH}", "peer": f"torch nn.Sequential+autograd+SGD, channels_last, {arithmetic}, {name}",
                              "samples_per_s": round(rate, 1), "tf32": tf32}), flush=True)
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cuda.matmul.allow_tf32 = False
        if "--cnn-only" in sys.argv:
            return 0
    for inputs in ([784] if QUICK else [784, 3072]):
        for batch in (1, 64):
            for peer, make in (("torch Sequential+autograd+SGD", sequential_loop), ("torch report loop (hand-written backward)", report_loop)):
                rate = timed(make(inputs, batch, device), batch, 0.5 if QUICK else 2.0)
                print(json.dumps({"case": f"{inputs} batch {batch}", "peer": f"{peer}, {name}", "samples_per_s": round(rate, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
