#!/usr/bin/python3
"""Generate golden values for ScratchNet's label-smoothed cross-entropy from torch.nn.functional.cross_entropy
(label_smoothing, float64), through a linear layer so that the gradients reach its parameters and input.

Usage:
    /usr/bin/python3 tools/golden/make_loss_golden.py [outfile]
    (default: tests/ScratchNet.Tests/Golden/Layers/label_smoothing.json, relative to the repo root)

File: {"smoothing": [eps...], "tensors": {name: {"shape", "data"}}}, batch B = 6, inputs I = 3, classes K = 5:
    x [B, I]; W [K, I]; b [K]                     input and the layer's parameters (float32-exact)
    labels [B]                                    class indices (the one-hot case)
    soft [B, K]                                   probability targets (rows sum to 1)
    For each eps e in smoothing (formatted %g) and each target kind k in (hard, soft):
    loss_k_e [1]; dW_k_e [K, I]; db_k_e [K]; dx_k_e [B, I]   the mean loss and its gradients
"""
import json
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("make_loss_golden.py: PyTorch is required (Debian: apt-get install python3-torch, "
             "then run with /usr/bin/python3)")

from make_golden import f32

DEFAULT_OUT = os.path.join("tests", "ScratchNet.Tests", "Golden", "Layers", "label_smoothing.json")
B, I, K = 6, 3, 5
SMOOTHING = [0.0, 0.1, 0.2]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    torch.manual_seed(4321)
    d = torch.float64
    x = f32(torch.randn(B, I, dtype=d))
    W = f32(torch.randn(K, I, dtype=d) * 0.7)
    b = f32(torch.randn(K, dtype=d) * 0.2)
    labels = torch.tensor([0, 3, 4, 1, 3, 2])
    soft = f32(torch.softmax(torch.randn(B, K, dtype=d) * 2, dim=1))
    soft = soft / soft.sum(dim=1, keepdim=True)   # exactly what the C# side reads (sums to 1 within rounding)
    t = {"x": x, "W": W, "b": b, "labels": labels.to(d), "soft": soft}
    for eps in SMOOTHING:
        for kind, target in (("hard", labels), ("soft", soft)):
            xs, Ws, bs = (v.clone().requires_grad_() for v in (x, W, b))
            loss = F.cross_entropy(xs @ Ws.T + bs, target, label_smoothing=eps)
            loss.backward()
            key = "%s_%g" % (kind, eps)
            t["loss_" + key] = loss.detach().reshape(1)
            t["dW_" + key], t["db_" + key], t["dx_" + key] = Ws.grad, bs.grad, xs.grad
    lines = ["  %s: %s" % (json.dumps(k), json.dumps({"shape": list(v.shape), "data": v.reshape(-1).tolist()})) for k, v in t.items()]
    with open(out, "w") as f:
        f.write('{"smoothing": %s, "tensors": {\n' % json.dumps(SMOOTHING) + ",\n".join(lines) + "\n}}\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
