#!/usr/bin/env python3
"""Loads a ScratchNet safetensors model into torch.nn.Sequential and checks its outputs.

Usage: load_in_torch.py MODEL.safetensors EXPECTED.json

EXPECTED.json, written by the C# side: {"input": [[...], ...], "output": [[...], ...]}.
The file is parsed with json + struct (Debian 12 packages no `safetensors`), the network is built
from __metadata__ alone (image layers included: Conv2d, BatchNorm2d, MaxPool2d, AvgPool2d, global average
pooling as AdaptiveAvgPool2d(1) + Flatten, Flatten), weights are loaded with load_state_dict(strict=True)
(batch norm's num_batches_tracked, which ScratchNet does not keep, filled with 0), and the outputs must
match within 1e-5 (float32) or 1e-12 (float64). Exits 1 on a mismatch. Run with Debian's python3-torch.
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    buffer = bytearray(data[8 + n:])
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(buffer, dtype=DTYPES[entry["dtype"]], count=(end - begin) // (4 if entry["dtype"] == "F32" else 8), offset=begin)
        tensors[name] = t.reshape(entry["shape"]).clone()
    return tensors, metadata


class Scale(torch.nn.Module):
    """ScratchNet's scale layer (airbench's Mul): y = factor * x."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def build(metadata):
    dtype = torch.float32 if metadata["dtype"] == "float32" else torch.float64
    modules = []
    for layer in json.loads(metadata["layers"]):
        if layer["type"] == "conv2d":
            padding = layer["padding"] if isinstance(layer["padding"], str) else tuple(layer["padding"])
            modules.append(torch.nn.Conv2d(layer["in_channels"], layer["out_channels"], tuple(layer["kernel_size"]), tuple(layer["stride"]),
                                           padding, groups=layer["groups"], bias=layer["bias"]))
            if layer.get("frozen_weight"):
                modules[-1].weight.requires_grad = False
        elif layer["type"] in ("batchnorm1d", "batchnorm2d"):
            kind = torch.nn.BatchNorm1d if layer["type"] == "batchnorm1d" else torch.nn.BatchNorm2d
            module = kind(layer["features"], eps=layer["eps"], momentum=layer["momentum"], affine=layer.get("affine", True))
            if layer.get("frozen_weight"):
                module.weight.requires_grad = False
            modules.append(module)
        elif layer["type"] == "maxpool2d":
            modules.append(torch.nn.MaxPool2d(tuple(layer["kernel_size"]), tuple(layer["stride"]), tuple(layer["padding"])))
        elif layer["type"] == "avgpool2d":
            modules.append(torch.nn.AvgPool2d(tuple(layer["kernel_size"]), tuple(layer["stride"]), tuple(layer["padding"]),
                                              count_include_pad=layer["count_include_pad"]))
        elif layer["type"] == "global_avgpool2d":
            modules.append(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()))
        elif layer["type"] == "flatten":
            modules.append(torch.nn.Flatten())
        elif layer["type"] == "dropout":
            modules.append(torch.nn.Dropout(layer["rate"]))
        elif layer["type"] == "linear":
            modules.append(torch.nn.Linear(layer["in"], layer["out"], bias=layer.get("bias", True)))
        elif layer["type"] == "relu":
            modules.append(torch.nn.ReLU())
        elif layer["type"] == "softmax":
            modules.append(torch.nn.Softmax(dim=-1))
        elif layer["type"] == "sigmoid":
            modules.append(torch.nn.Sigmoid())
        elif layer["type"] == "tanh":
            modules.append(torch.nn.Tanh())
        elif layer["type"] == "gelu":
            modules.append(torch.nn.GELU(approximate=layer.get("approximate", "tanh")))   # an entry without it is the tanh form
        elif layer["type"] == "scale":
            modules.append(Scale(layer["factor"]))
        elif layer["type"] == "leaky_relu":
            modules.append(torch.nn.LeakyReLU(layer["negative_slope"]))
        else:
            raise ValueError(f"unknown layer {layer['type']}")
    return torch.nn.Sequential(*modules).to(dtype), dtype


def main():
    model_path, expected_path = sys.argv[1], sys.argv[2]
    tensors, metadata = read_safetensors(model_path)
    net, dtype = build(metadata)
    # ScratchNet keeps no batch-norm step counter (it only matters to momentum=None); PyTorch's state dict has one.
    for name, buffer in net.state_dict().items():
        if name.endswith(".num_batches_tracked") and name not in tensors:
            tensors[name] = torch.zeros_like(buffer)
    net.load_state_dict(tensors, strict=True)
    net.eval()
    with open(expected_path) as f:
        expected = json.load(f)
    x = torch.tensor(expected["input"], dtype=dtype)
    if "input_shape" in metadata:   # an image network: rows of C·H·W values, NCHW
        x = x.reshape(-1, *json.loads(metadata["input_shape"]))
    want = torch.tensor(expected["output"], dtype=dtype)
    with torch.no_grad():
        got = net(x)
    diff = (got - want).abs().max().item()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    print(f"{model_path}: {net}; {metadata['dtype']}, loss {metadata['loss']}; max |torch - ScratchNet| = {diff:.3g} (tolerance {tolerance:g})")
    sys.exit(0 if diff <= tolerance else 1)


if __name__ == "__main__":
    main()
