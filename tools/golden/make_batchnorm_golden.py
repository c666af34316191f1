#!/usr/bin/python3
"""Generate golden values for ScratchNet's BatchNorm1d from torch.nn.BatchNorm1d (float64).

Usage:
    /usr/bin/python3 tools/golden/make_batchnorm_golden.py [outfile]
    (default: tests/ScratchNet.Tests/Golden/Layers/batchnorm.json, relative to the repo root)

File: {"momentum", "eps", "tensors": {name: {"shape", "data"}}}, features F = 4, batch B = 5:
    weight, bias, running_mean_0, running_var_0 [F]   the layer's initial state (not PyTorch's defaults)
    x1, x2 [B, F]                                    two training batches, run in order
    g1 [B, F]                                        upstream gradient of the first training batch
    y1, dx1 [B, F]; dweight1, dbias1 [F]             first training step's output and gradients
    running_mean, running_var [F]                    running estimates after both training batches
    x3, g3 [B, F]; y3, dx3 [B, F]; dweight3, dbias3 [F]   an inference pass (after both batches) and its gradients
"""
import json
import os
import sys

try:
    import torch
except ImportError:
    sys.exit("make_batchnorm_golden.py: PyTorch is required (Debian: apt-get install python3-torch, "
             "then run with /usr/bin/python3)")

DEFAULT_OUT = os.path.join("tests", "ScratchNet.Tests", "Golden", "Layers", "batchnorm.json")
B, F, MOMENTUM, EPS = 5, 4, 0.1, 1e-5


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    torch.manual_seed(1234)
    d = torch.float64
    bn = torch.nn.BatchNorm1d(F, eps=EPS, momentum=MOMENTUM).to(d)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.5 * torch.randn(F, dtype=d))
        bn.bias.copy_(0.3 * torch.randn(F, dtype=d))
        bn.running_mean.copy_(0.2 * torch.randn(F, dtype=d))
        bn.running_var.copy_(0.5 + torch.rand(F, dtype=d))
    t = {"weight": bn.weight.detach().clone(), "bias": bn.bias.detach().clone(),
         "running_mean_0": bn.running_mean.clone(), "running_var_0": bn.running_var.clone()}
    x1 = 1 + 2 * torch.randn(B, F, dtype=d)
    x2 = -0.5 + 0.7 * torch.randn(B, F, dtype=d)
    x3 = torch.randn(B, F, dtype=d)
    g1 = torch.randn(B, F, dtype=d)
    g3 = torch.randn(B, F, dtype=d)

    bn.train()
    x = x1.clone().requires_grad_(True)
    y1 = bn(x)
    y1.backward(g1)
    t.update(x1=x1, x2=x2, g1=g1, y1=y1.detach(), dx1=x.grad, dweight1=bn.weight.grad.clone(), dbias1=bn.bias.grad.clone())
    bn(x2)
    t.update(running_mean=bn.running_mean.clone(), running_var=bn.running_var.clone())

    bn.eval()
    bn.weight.grad = None
    bn.bias.grad = None
    x = x3.clone().requires_grad_(True)
    y3 = bn(x)
    y3.backward(g3)
    t.update(x3=x3, g3=g3, y3=y3.detach(), dx3=x.grad, dweight3=bn.weight.grad.clone(), dbias3=bn.bias.grad.clone())

    doc = {"momentum": MOMENTUM, "eps": EPS,
           "tensors": {k: {"shape": list(v.shape), "data": v.flatten().tolist()} for k, v in t.items()}}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
