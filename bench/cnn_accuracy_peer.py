#!/usr/bin/python3
"""PyTorch peer for the accuracy of a ScratchNet CNN recipe: trains the recipe's network in torch, on the CPU, from
the same CIFAR-10 files and with the same rules, and prints what `scratchnet train` prints.

Usage: /usr/bin/python3 bench/cnn_accuracy_peer.py CONFIG.json DATA_DIR THREADS [--epochs N] [--seed S]
           [--validation-rows FILE] [--train-rows N]

CONFIG is a run configuration of experiments/ (a `network` layer list and the airbench-style fields: lr, momentum,
weight_decay (coupled, torch's SGD), bias_lr_scale, triangular schedule, label_smoothing, crop_padding, alternating
flip, ema/lookahead from ema_start_epoch, tta; an entry's freeze_after_epochs). The network is built by
tools/interop/load_in_torch.py without the final softmax; its weights are drawn by torch's defaults and its
convolutions' biases zeroed (ScratchNet's and airbench's), then "dirac" layers get torch.nn.init.dirac_ on their first
filters and the "whiten" layer the patch whitening of the first 5,000 training images (eps 5e-4), as `scratchnet
train` does.
The split is --validation-rows (one row index per line, e.g. from a ScratchNet run) or else a seeded shuffle with
val_fraction of the rows held out. Written from the recipe's definition, to tell a recipe's limits from a bug of
ours: same data, same epochs, an independent implementation.
Prints one `E: n  tL: …  tA: …  vL: …  vA: …  s: …` line per epoch (tL/tA on the first train_eval_rows training
rows, unaugmented), then a JSON line with the final and test-time-augmented validation accuracy.
"""
import argparse
import json
import math
import os
import sys
import time
import importlib.util

import numpy as np
import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("config")
parser.add_argument("data_dir")
parser.add_argument("threads", type=int)
parser.add_argument("--epochs", type=int)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--validation-rows")
parser.add_argument("--train-rows", type=int, help="train on the first N rows of the split only (a smoke test)")
args = parser.parse_args()


def fail(message):
    """One line that names the file or argument and the fault, and exit 2: no traceback."""
    print(f"cnn_accuracy_peer.py: {message}", file=sys.stderr)
    sys.exit(2)


if args.threads < 1:
    fail(f"threads: {args.threads} is not a positive thread count")
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
try:
    with open(args.config) as f:
        config = json.load(f)
    epochs = args.epochs or config["epochs"]
    batch = config["batch_size"]
except OSError as e:
    fail(f"{args.config}: cannot read the run configuration ({e.strerror})")
except json.JSONDecodeError as e:
    fail(f"{args.config}: not JSON (line {e.lineno}: {e.msg})")
except (KeyError, TypeError) as e:
    fail(f"{args.config}: the run configuration lacks {e}")

# --- data: the five training batches, 1 label byte + 3,072 pixel bytes per record
records = []
for i in range(1, 6):
    path = os.path.join(args.data_dir, f"data_batch_{i}.bin")
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        fail(f"{path}: cannot read the CIFAR-10 batch ({e.strerror})")
    if raw.size == 0 or raw.size % 3073:
        fail(f"{path}: {raw.size} bytes is not a whole number of 3,073-byte CIFAR-10 records")
    records.append(raw.reshape(-1, 3073))
records = np.concatenate(records)
if records[:, 0].max() > 9:
    fail(f"{args.data_dir}: a label byte reads {int(records[:, 0].max())}, CIFAR-10 has classes 0-9")
labels_all = torch.from_numpy(records[:, 0].astype(np.int64))
pixels_all = torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32).copy())
n = len(labels_all)
if args.validation_rows:
    try:
        with open(args.validation_rows) as f:
            val_rows = torch.tensor([int(line.strip()) for line in f if line.strip()], dtype=torch.int64)
    except OSError as e:
        fail(f"{args.validation_rows}: cannot read the validation rows ({e.strerror})")
    except ValueError as e:
        fail(f"{args.validation_rows}: a line is not a row number ({e})")
    if len(val_rows) == 0 or int(val_rows.min()) < 0 or int(val_rows.max()) >= n:
        fail(f"{args.validation_rows}: row numbers must lie in 0..{n - 1} (one per line, at least one)")
    mask = torch.ones(n, dtype=torch.bool)
    mask[val_rows] = False
    train_rows = torch.arange(n)[mask][torch.randperm(int(mask.sum()))]
else:
    order = torch.randperm(n)
    held = round(n * config.get("val_fraction", 0.1))
    val_rows, train_rows = order[:held], order[held:]
mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
std = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def normalise(p):
    return (p.float() / 255 - mean) / std


if args.train_rows:
    train_rows = train_rows[:args.train_rows]
train_x, train_y = normalise(pixels_all[train_rows]), labels_all[train_rows]
val_x, val_y = normalise(pixels_all[val_rows]), labels_all[val_rows]

# --- network
here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("load_in_torch", os.path.join(here, "..", "tools", "interop", "load_in_torch.py"))
interop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(interop)
entries = config["network"]
layers = [{k: v for k, v in e.items() if k not in ("init", "freeze_after_epochs")} for e in entries]
if layers[-1]["type"] == "softmax":
    layers = layers[:-1]
net, _ = interop.build({"layers": json.dumps(layers), "dtype": "float32"})
modules = list(net.children())
with torch.no_grad():
    for module in modules:
        if isinstance(module, torch.nn.Conv2d) and module.bias is not None:
            module.bias.zero_()
    for index, entry in enumerate(entries[:len(modules)]):
        if entry.get("init") == "dirac":
            w = modules[index].weight
            torch.nn.init.dirac_(w[:w.size(1)])
        elif entry.get("init") == "whiten":
            conv = modules[index]
            kh, kw = conv.kernel_size
            patches = train_x[:5000].unfold(2, kh, 1).unfold(3, kw, 1)          # N, C, H', W', kh, kw
            patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * kh * kw).double()
            covariance = patches.T @ patches / len(patches)
            values, vectors = torch.linalg.eigh(covariance)
            values, vectors = values.flip(0), vectors.flip(1)                  # largest first
            filters = (vectors / torch.sqrt(values.clamp(min=0) + 5e-4)).T.reshape(-1, 3, kh, kw)
            conv.weight.copy_(torch.cat((filters, -filters)).float())
net.train()

# --- optimiser: torch's SGD (coupled decay); batch-norm biases at bias_lr_scale × lr with decay / scale
lr, wd, scale = config["lr"], config.get("weight_decay", 0.0), config.get("bias_lr_scale", 1.0)
norm_biases = [m.bias for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d) and m.bias is not None and m.bias.requires_grad]
others = [p for p in net.parameters() if p.requires_grad and all(p is not b for b in norm_biases)]
optimizer = torch.optim.SGD([dict(params=norm_biases, lr=lr * scale, weight_decay=wd / scale), dict(params=others, lr=lr, weight_decay=wd)],
                            momentum=config.get("momentum", 0.9), nesterov=config.get("optimizer") == "nesterov")
steps_per_epoch = math.ceil(len(train_x) / batch)
total = steps_per_epoch * epochs
peak = math.floor(config.get("peak_fraction", 0.2) * total)
start, end = config.get("start_factor", 0.2), config.get("end_factor", 0.0)


def factor(step):
    return float(np.interp(step, [0, peak, total], [start, 1.0, end]))


base_rates = [g["lr"] for g in optimizer.param_groups]
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.get("label_smoothing", 0.0))

# --- augmentation: reflect padding and a random crop per image, airbench's alternating flip
pad = config.get("crop_padding", 0)
first_flip = torch.rand(len(train_x)) < 0.5
padded = F.pad(train_x, (pad,) * 4, mode="reflect") if pad else train_x


def augmented(rows, epoch):
    x = padded[rows]
    if pad:
        dy = torch.randint(0, 2 * pad + 1, (len(rows),))
        dx = torch.randint(0, 2 * pad + 1, (len(rows),))
        out = torch.empty(len(rows), 3, 32, 32)
        for sy in range(2 * pad + 1):
            for sx in range(2 * pad + 1):
                m = (dy == sy) & (dx == sx)
                out[m] = x[m, :, sy:sy + 32, sx:sx + 32]
        x = out
    flip = first_flip[rows] ^ (epoch % 2 == 1) if config.get("flip") == "alternating" else torch.rand(len(rows)) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


# --- weight averaging: every ema_every steps avg ← d·avg + (1 − d)·w, d = ema · (step / total)^ema_power, copied back;
# the average starts as the weights at the start of epoch ema_start_epoch, and the network takes it after each epoch
ema, every, power = config.get("ema"), config.get("ema_every", 1), config.get("ema_power", 0)
ema_start = config.get("ema_start_epoch", 0)
if ema and not config.get("lookahead"):
    raise SystemExit(f"{args.config}: plain EMA (ema without lookahead) is not implemented by this peer; the CNN recipes use lookahead.")
average = None

# --- parameters trained for the first freeze_after_epochs epochs only (requires_grad off after: SGD skips them)
frozen_later = [(list(modules[i].parameters()), e["freeze_after_epochs"]) for i, e in enumerate(entries[:len(modules)]) if "freeze_after_epochs" in e]


def evaluate(x, y, views=None):
    net.eval()
    with torch.no_grad():
        logits = torch.cat([tta(x[i:i + 1000]) if views else net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    net.train()
    return loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def tta(x):
    def mirrored(v):
        return 0.5 * net(v) + 0.5 * net(v.flip(-1))
    p = F.pad(x, (1,) * 4, mode="reflect")
    return 0.5 * mirrored(x) + 0.25 * mirrored(p[:, :, 0:32, 0:32]) + 0.25 * mirrored(p[:, :, 2:34, 2:34])


eval_rows = config.get("train_eval_rows") or len(train_x)
step = 0
began = time.perf_counter()
for epoch in range(epochs):
    epoch_began = time.perf_counter()
    for parameters, epochs_trained in frozen_later:
        for p in parameters:
            p.requires_grad_(epoch < epochs_trained)
    if ema and epoch == ema_start:
        average = {k: v.clone() for k, v in net.state_dict().items() if v.dtype.is_floating_point}
    order = torch.randperm(len(train_x))
    for b in range(steps_per_epoch):
        rows = order[b * batch:(b + 1) * batch]
        f = factor(step)
        for group, rate in zip(optimizer.param_groups, base_rates):
            group["lr"] = rate * f
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(augmented(rows, epoch)), train_y[rows]).backward()
        optimizer.step()
        if average is not None and (step + 1) % every == 0:
            d = ema * ((step + 1) / total) ** power
            with torch.no_grad():
                for k, v in net.state_dict().items():
                    if k in average:
                        average[k].mul_(d).add_(v, alpha=1 - d)
                        if config.get("lookahead"):
                            v.copy_(average[k])
        step += 1
    if average is not None:
        with torch.no_grad():
            for k, v in net.state_dict().items():
                if k in average:
                    v.copy_(average[k])
    tl, ta = evaluate(train_x[:eval_rows], train_y[:eval_rows])
    vl, va = evaluate(val_x, val_y)
    print(f"E: {epoch}\ttL: {tl}\ttA: {ta:.4f}\tvL: {vl}\tvA: {va:.4f}\ts: {time.perf_counter() - epoch_began:.3f}", flush=True)
result = {"epochs": epochs, "validation_accuracy": round(va, 4), "seconds": round(time.perf_counter() - began, 1), "torch": torch.__version__}
if config.get("tta") == "flip-translate":
    result["tta_accuracy"] = round(evaluate(val_x, val_y, views=True)[1], 4)
print(json.dumps(result))
