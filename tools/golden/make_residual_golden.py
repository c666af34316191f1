#!/usr/bin/python3
"""Generate golden values for ScratchNet's Sequential and Residual blocks from a small torch nn.Module (float64).

Usage:
    /usr/bin/python3 tools/golden/make_residual_golden.py [outfile]
    (default: tests/ScratchNet.Tests/Golden/Layers/residual.json, relative to the repo root)

The network, in state-dict names (as ScratchNet names the same layers):
    0            Linear(5, 6)
    1            Residual: body = Sequential(Linear(6, 6), Tanh, Linear(6, 6)); y = body(x) + x
    2            Residual: body = Sequential(Linear(6, 4), Sigmoid), projection = Linear(6, 4); y = body(x) + projection(x)
File: {"module", "tensors": {name: {"shape", "data"}}}: every state-dict entry (the initial weights), x [B, 5],
the upstream gradient g [B, 4], the output y, dx, and "grad.<name>" for every parameter; B = 3.
"""
import os
import sys

try:
    import torch
    from torch import nn
    from make_golden import write_case  # one golden-file layout for every script
except ImportError:
    sys.exit("make_residual_golden.py: PyTorch is required (Debian: apt-get install python3-torch, "
             "then run with /usr/bin/python3)")

DEFAULT_OUT = os.path.join("tests", "ScratchNet.Tests", "Golden", "Layers", "residual.json")
B = 3


class Residual(nn.Module):
    def __init__(self, body, projection=None):
        super().__init__()
        self.body = body
        if projection is not None:
            self.projection = projection
        self.has_projection = projection is not None

    def forward(self, x):
        return self.body(x) + (self.projection(x) if self.has_projection else x)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    torch.manual_seed(2024)
    d = torch.float64
    net = nn.Sequential(
        nn.Linear(5, 6),
        Residual(nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6))),
        Residual(nn.Sequential(nn.Linear(6, 4), nn.Sigmoid()), projection=nn.Linear(6, 4)),
    ).to(d)
    t = {name: value.detach().clone() for name, value in net.state_dict().items()}
    x = torch.randn(B, 5, dtype=d, requires_grad=True)
    g = torch.randn(B, 4, dtype=d)
    y = net(x)
    y.backward(g)
    t.update(x=x.detach(), g=g, y=y.detach(), dx=x.grad)
    for name, parameter in net.named_parameters():
        t["grad." + name] = parameter.grad.clone()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    write_case(out, {"module": "linear, residual(identity), residual(projection)"}, t)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
