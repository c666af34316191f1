#!/usr/bin/python3
"""Golden values for ScratchNet's image layers from PyTorch: conv2d, max_pool2d, avg_pool2d, global average
pooling and batch_norm (training and inference), at odd sizes, strides and paddings, in float64 and float32; and
the classifier they end in, linear with and without a bias (x [B, in]).

Usage:
    /usr/bin/python3 tools/golden/make_conv_golden.py [outfile]
    (default: tests/ScratchNet.Tests/Golden/Layers/conv.json, relative to the repo root)

File: {"cases": [{"name", "dtype", "layer": {type and settings}}], "tensors": {"<name>/<tensor>": {"shape", "data"}}}.
Per case, batch B = 3, samples (C, H, W):
    x [B, C, H, W]                         the input (values rounded to the case's dtype); [B, in] for linear
    g [B, ...]                             a random upstream gradient of the output
    y, dx                                  the output and dL/dx for L = sum(y * g)
    weight, bias (conv, batchnorm, linear) the parameters, and dweight, dbias their gradients
    running_mean_0, running_var_0          batch norm's estimates before, running_mean, running_var after
Every value is computed by torch.nn.functional in the case's dtype.
"""
import json
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("make_conv_golden.py: PyTorch is required (Debian: apt-get install python3-torch, then run with /usr/bin/python3)")

DEFAULT_OUT = os.path.join("tests", "ScratchNet.Tests", "Golden", "Layers", "conv.json")
B = 3

CASES = [
    ("conv_pad1", (3, 7, 6), {"type": "conv2d", "out_channels": 4, "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1], "bias": True, "groups": 1}),
    ("conv_strided_grouped", (4, 9, 8), {"type": "conv2d", "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0], "bias": True, "groups": 2}),
    ("conv_depthwise", (3, 6, 5), {"type": "conv2d", "out_channels": 3, "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1], "bias": False, "groups": 3}),
    ("conv_same_even", (2, 5, 6), {"type": "conv2d", "out_channels": 3, "kernel_size": [4, 4], "stride": [1, 1], "padding": "same", "bias": True, "groups": 1}),
    ("conv_whitening", (3, 8, 8), {"type": "conv2d", "out_channels": 24, "kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "bias": True, "groups": 1}),
    ("conv_stride3", (2, 11, 7), {"type": "conv2d", "out_channels": 5, "kernel_size": [5, 3], "stride": [3, 2], "padding": [2, 1], "bias": True, "groups": 1}),
    ("maxpool_3s2p1", (2, 7, 6), {"type": "maxpool2d", "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]}),
    ("maxpool_2", (3, 5, 7), {"type": "maxpool2d", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]}),
    ("avgpool_3s2p1", (2, 7, 6), {"type": "avgpool2d", "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "count_include_pad": True}),
    ("avgpool_3s2p1_exclude", (2, 7, 6), {"type": "avgpool2d", "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1], "count_include_pad": False}),
    ("avgpool_2x3", (3, 5, 7), {"type": "avgpool2d", "kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 1], "count_include_pad": True}),
    ("global_avgpool", (3, 5, 4), {"type": "global_avgpool2d"}),
    ("batchnorm_train", (3, 4, 5), {"type": "batchnorm2d", "momentum": 0.1, "eps": 1e-5, "affine": True, "training": True}),
    ("batchnorm_eval", (3, 4, 5), {"type": "batchnorm2d", "momentum": 0.1, "eps": 1e-5, "affine": True, "training": False}),
    ("batchnorm_train_plain", (2, 3, 3), {"type": "batchnorm2d", "momentum": 0.3, "eps": 1e-3, "affine": False, "training": True}),
    ("linear", (7,), {"type": "linear", "out": 5, "bias": True}),
    ("linear_no_bias", (7,), {"type": "linear", "out": 5, "bias": False}),
]


def run(name, shape, layer, dtype, tensors):
    c = shape[0]
    x = torch.randn(B, *shape, dtype=torch.float64).to(dtype)
    kind = layer["type"]
    params = {}
    if kind == "conv2d":
        kh, kw = layer["kernel_size"]
        params["weight"] = (0.5 * torch.randn(layer["out_channels"], c // layer["groups"], kh, kw, dtype=torch.float64)).to(dtype)
        if layer["bias"]:
            params["bias"] = (0.3 * torch.randn(layer["out_channels"], dtype=torch.float64)).to(dtype)
    elif kind == "linear":
        params["weight"] = (0.5 * torch.randn(layer["out"], c, dtype=torch.float64)).to(dtype)
        if layer["bias"]:
            params["bias"] = (0.3 * torch.randn(layer["out"], dtype=torch.float64)).to(dtype)
    elif kind == "batchnorm2d":
        if layer["affine"]:
            params["weight"] = (1 + 0.5 * torch.randn(c, dtype=torch.float64)).to(dtype)
            params["bias"] = (0.3 * torch.randn(c, dtype=torch.float64)).to(dtype)
        running_mean = (0.2 * torch.randn(c, dtype=torch.float64)).to(dtype)
        running_var = (0.5 + torch.rand(c, dtype=torch.float64)).to(dtype)
        tensors[f"{name}/running_mean_0"] = running_mean.clone()
        tensors[f"{name}/running_var_0"] = running_var.clone()
    for p in params.values():
        p.requires_grad_(True)
    xg = x.clone().requires_grad_(True)
    if kind == "conv2d":
        padding = layer["padding"] if isinstance(layer["padding"], str) else tuple(layer["padding"])
        y = F.conv2d(xg, params["weight"], params.get("bias"), stride=tuple(layer["stride"]), padding=padding, groups=layer["groups"])
    elif kind == "maxpool2d":
        y = F.max_pool2d(xg, tuple(layer["kernel_size"]), tuple(layer["stride"]), tuple(layer["padding"]))
    elif kind == "avgpool2d":
        y = F.avg_pool2d(xg, tuple(layer["kernel_size"]), tuple(layer["stride"]), tuple(layer["padding"]), count_include_pad=layer["count_include_pad"])
    elif kind == "global_avgpool2d":
        y = torch.flatten(F.adaptive_avg_pool2d(xg, 1), 1)
    elif kind == "linear":
        y = F.linear(xg, params["weight"], params.get("bias"))
    else:
        y = F.batch_norm(xg, running_mean, running_var, params.get("weight"), params.get("bias"),
                         training=layer["training"], momentum=layer["momentum"], eps=layer["eps"])
        tensors[f"{name}/running_mean"] = running_mean
        tensors[f"{name}/running_var"] = running_var
    g = torch.randn(*y.shape, dtype=torch.float64).to(dtype)
    y.backward(g)
    tensors[f"{name}/x"] = x
    tensors[f"{name}/g"] = g
    tensors[f"{name}/y"] = y.detach()
    tensors[f"{name}/dx"] = xg.grad
    for key, p in params.items():
        tensors[f"{name}/{key}"] = p.detach()
        tensors[f"{name}/d{key}"] = p.grad


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    torch.manual_seed(2024)
    cases, tensors = [], {}
    for dtype, suffix in ((torch.float64, "float64"), (torch.float32, "float32")):
        for name, shape, layer in CASES:
            case = f"{name}_{suffix}"
            run(case, shape, layer, dtype, tensors)
            cases.append({"name": case, "dtype": suffix, "input_shape": list(shape), "layer": layer})
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:   # one case, one tensor per line
        f.write('{"cases": [\n' + ",\n".join(json.dumps(c) for c in cases) + '],\n"tensors": {\n')
        f.write(",\n".join(json.dumps(k) + ": " + json.dumps({"shape": list(v.shape), "data": v.detach().double().flatten().tolist()})
                             for k, v in tensors.items()))
        f.write("}}\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
