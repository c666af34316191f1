#!/usr/bin/python3
"""Generate golden values for ScratchNet's GELU in both of PyTorch's forms (approximate='none' and 'tanh').

Usage:
    /usr/bin/python3 tools/golden/make_gelu_golden.py [outfile]
    (default: tests/ScratchNet.Tests/Golden/Layers/gelu.json, relative to the repo root)

x: 241 points evenly over [-12, 12], 60 drawn from N(0, 3²), and ±1e-6, ±1e-3, ±6, ±9, ±40 (far tails, where Φ
underflows or saturates), every value rounded to float32 so that both element types read the same inputs; g: an
upstream gradient of the same length. For each form, "<form>.y" and "<form>.dx" are torch.nn.functional.gelu and its
gradient g·dGELU/dx computed in float64, and "<form>.y.float32" / "<form>.dx.float32" the same computed by torch in
float32 (its own erf and tanh kernels).
"""
import os
import sys

try:
    import torch
    from make_golden import write_case  # one golden-file layout for every script
except ImportError:
    sys.exit("make_gelu_golden.py: PyTorch is required (Debian: apt-get install python3-torch, then run with /usr/bin/python3)")

DEFAULT_OUT = os.path.join("tests", "ScratchNet.Tests", "Golden", "Layers", "gelu.json")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    torch.manual_seed(2026)
    far = torch.tensor([1e-6, 1e-3, 6.0, 9.0, 40.0], dtype=torch.float64)
    x = torch.cat([torch.linspace(-12, 12, 241, dtype=torch.float64), torch.randn(60, dtype=torch.float64) * 3, far, -far])
    x = x.float().double()
    g = torch.randn(len(x), dtype=torch.float64).float().double()
    tensors = {"x": x, "g": g}
    for form in ("none", "tanh"):
        for dtype, suffix in ((torch.float64, ""), (torch.float32, ".float32")):
            xt = x.to(dtype).clone().requires_grad_(True)
            y = torch.nn.functional.gelu(xt, approximate=form)
            y.backward(g.to(dtype))
            tensors[f"{form}.y{suffix}"] = y.detach().double()
            tensors[f"{form}.dx{suffix}"] = xt.grad.double()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    write_case(out, {"module": "gelu, approximate none and tanh"}, tensors)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
