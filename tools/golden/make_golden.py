#!/usr/bin/python3
"""Generate golden reference tensors for ScratchNet's MLP tests (llm.c style).

PyTorch (float64) is the reference implementation; the C# tests load the JSON
files written here and compare their own forward pass, loss, gradients and SGD
updates against them.

Usage:
    /usr/bin/python3 tools/golden/make_golden.py [outdir]
    /usr/bin/python3 tools/golden/make_golden.py --check DIR   (recompute; compare with DIR's files)
    (default outdir: tests/ScratchNet.Tests/Golden, relative to the repo root)

Network: 5 -> Linear0 -> ReLU -> 7 -> Linear1 -> ReLU -> 6 -> Linear2 -> 4,
followed by Softmax for loss "ce" and nothing for loss "l2".
Linear: W is [out, in], b is [out], y = x @ W.T + b; samples are rows.

One file per case, named <loss>_reg<reg>_b<batch>.json, e.g. l2_reg0_b1.json,
ce_reg0.01_b8.json: loss in {l2, ce} x reg in {0, 0.01} x batch in {1, 8}.
Each file holds:
    x [3B,5], y [3B,4]                 all three batches (batch k = rows kB..(k+1)B-1)
    W0 b0 W1 b1 W2 b2                  initial parameters
    output [B,4], loss []              forward pass on batch 0 (reg term included)
    dx dW0 db0 dW1 db1 dW2 db2         gradients of that loss, before any update
    losses [3]                         loss of SGD step k on batch k, before its update
    W0_after ... b2_after              parameters after the 3 SGD steps (lr 0.1)

Format: {"case", "loss", "reg", "lr", "batch", "sizes",
         "tensors": {name: {"shape": [...], "data": [row-major flat list]}}};
scalars have shape [] and a one-element data list.
"""
import json
import os
import sys

try:
    import torch
except ImportError:
    sys.exit("make_golden.py: PyTorch is required (Debian: apt-get install python3-torch, "
             "then run with /usr/bin/python3)")

SIZES = [5, 7, 6, 4]
LR = 0.1
STEPS = 3
DEFAULT_OUTDIR = os.path.join("tests", "ScratchNet.Tests", "Golden")


def f32(t):
    """Round to float32, then widen to float64.

    Inputs are exactly representable in float32, so the C# side (float or
    double) starts from bit-identical values; all maths then runs in float64
    so the golden outputs are as exact as possible.
    """
    return t.to(torch.float32).to(torch.float64)


def init_params():
    """W ~ N(0,1)*0.5 and b ~ N(0,1)*0.1 per layer, as leaf tensors [W0, b0, W1, b1, W2, b2]."""
    params = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        params.append(f32(torch.randn(n_out, n_in, dtype=torch.float64) * 0.5))
        params.append(f32(torch.randn(n_out, dtype=torch.float64) * 0.1))
    return [p.requires_grad_() for p in params]


def make_data(loss, batch):
    """x [3B,5] ~ N(0,1); y [3B,4] one-hot random classes (ce) or N(0,1) (l2)."""
    n = STEPS * batch
    x = f32(torch.randn(n, SIZES[0], dtype=torch.float64))
    if loss == "ce":
        classes = torch.randint(0, SIZES[-1], (n,))
        y = torch.nn.functional.one_hot(classes, SIZES[-1]).to(torch.float64)
    else:
        y = f32(torch.randn(n, SIZES[-1], dtype=torch.float64))
    return x, y


def logits_of(params, x):
    """Linear0 -> ReLU -> Linear1 -> ReLU -> Linear2 (pre-softmax outputs)."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        W, b = params[2 * i], params[2 * i + 1]
        h = h @ W.T + b
        if i < n_layers - 1:
            h = torch.relu(h)
    return h


def total_loss(params, x, y, loss, reg):
    """Return (network output, loss incl. reg) for one batch."""
    z = logits_of(params, x)
    if loss == "ce":
        # log_softmax rather than log(softmax(...)) for numerical stability.
        data_loss = -(y * torch.log_softmax(z, dim=1)).sum(dim=1).mean()
        out = torch.softmax(z, dim=1)
    else:
        # Per-sample SUM of squared errors, then MEAN over the batch.
        data_loss = ((z - y) ** 2).sum(dim=1).mean()
        out = z
    # Weights only (even indices), never biases.
    reg_loss = sum((W ** 2).sum() for W in params[0::2])
    return out, data_loss + reg * reg_loss


def run_case(loss, reg, batch, seed):
    """Compute every recorded tensor of one case; returns an ordered name -> tensor dict."""
    torch.manual_seed(seed)
    params = init_params()
    x, y = make_data(loss, batch)
    names = ["W0", "b0", "W1", "b1", "W2", "b2"]
    t = {"x": x, "y": y}
    t.update({n: p.detach().clone() for n, p in zip(names, params)})

    # Forward/backward on batch 0 before any update; dx needs x as a leaf.
    x0 = x[:batch].clone().requires_grad_()
    out, l = total_loss(params, x0, y[:batch], loss, reg)
    grads = torch.autograd.grad(l, [x0] + params)
    t["output"], t["loss"] = out.detach(), l.detach()
    t["dx"] = grads[0]
    t.update({"d" + n: g for n, g in zip(names, grads[1:])})

    # Plain SGD, step k on batch k; each loss is recorded before its update.
    losses = []
    for k in range(STEPS):
        rows = slice(k * batch, (k + 1) * batch)
        _, l = total_loss(params, x[rows], y[rows], loss, reg)
        grads = torch.autograd.grad(l, params)
        losses.append(l.item())
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= LR * g
    t["losses"] = torch.tensor(losses, dtype=torch.float64)
    t.update({n + "_after": p.detach().clone() for n, p in zip(names, params)})
    return t


def write_case(path, meta, tensors):
    """Write compact JSON with one tensor per line (readable diffs, small files)."""
    lines = []
    for name, tensor in tensors.items():
        entry = {"shape": list(tensor.shape), "data": tensor.reshape(-1).tolist()}
        lines.append("  %s: %s" % (json.dumps(name), json.dumps(entry, allow_nan=False)))
    head = json.dumps(meta)[:-1]  # reopen the meta object to append "tensors"
    with open(path, "w") as f:
        f.write(head + ', "tensors": {\n' + ",\n".join(lines) + "\n}}\n")


def cases():
    """(name, meta, tensors) for every case, each with its own fixed seed."""
    seed = 0
    for loss in ("l2", "ce"):
        for reg in (0.0, 0.01):
            for batch in (1, 8):
                seed += 1  # fixed, distinct seed per case
                name = "%s_reg%g_b%d" % (loss, reg, batch)
                meta = {"case": name, "loss": loss, "reg": reg, "lr": LR,
                        "batch": batch, "sizes": SIZES}
                yield name, meta, run_case(loss, reg, batch, seed)


def mismatch(fresh, kept, tolerance):
    """None when every value of fresh is within tolerance * max(1, max |fresh|) of kept (same length);
    else the largest difference (infinity for a length mismatch)."""
    if len(fresh) != len(kept):
        return float("inf")
    scale = max([1.0] + [abs(v) for v in fresh])
    worst = max([abs(a - b) for a, b in zip(fresh, kept)] + [0.0])
    return worst if worst > tolerance * scale else None


def check(golden_dir, tolerance=1e-12):
    """Recompute every case and compare with the files in golden_dir.

    Not byte for byte: the last bits of float64 sums depend on the BLAS that torch links (Debian's
    torch switches to OpenBLAS when it is installed), so each value must agree within
    tolerance * max(1, max |value| of its tensor). Returns the number of mismatching tensors."""
    failures = 0
    for name, meta, tensors in cases():
        with open(os.path.join(golden_dir, name + ".json")) as f:
            stored = json.load(f)
        for key, tensor in tensors.items():
            worst = mismatch(tensor.detach().double().flatten().tolist(), stored["tensors"][key]["data"], tolerance)
            if worst is not None:
                print("MISMATCH %s %s: largest difference %g" % (name, key, worst))
                failures += 1
    print("golden check: %d mismatching tensors" % failures)
    return failures


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        sys.exit(1 if check(sys.argv[2]) else 0)
    outdir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTDIR
    os.makedirs(outdir, exist_ok=True)
    for name, meta, tensors in cases():
        write_case(os.path.join(outdir, name + ".json"), meta, tensors)
        print("wrote", os.path.join(outdir, name + ".json"))


if __name__ == "__main__":
    main()
