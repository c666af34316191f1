#!/usr/bin/env python3
"""Writes a trained torch.nn.Sequential's state_dict as safetensors, for ScratchNet to load.

Usage: torch_state_dict.py OUT.safetensors OUT.json

The network (6 inputs, 4 classes): Linear(6, 9), BatchNorm1d(9), ReLU, Linear(9, 5), Tanh, Dropout(0.2),
Linear(5, 4), trained for 20 Adam steps so that the weights and the batch-norm estimates are not their
initial values, then put in eval mode. The file is written with json + struct, as
safetensors.torch.save_file writes it (Debian 12 packages no `safetensors`), state-dict names and dtypes
as PyTorch has them (float32, and int64 for num_batches_tracked). OUT.json holds the inputs and
softmax(model(input)) in float64 for the C# side to compare: {"input": [[...]], "output": [[...]]}.
Run with Debian's python3-torch.
"""
import json
import struct
import sys

import torch

DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save_safetensors(tensors, path):
    """safetensors layout: u64 header length, JSON header padded with spaces to 8 bytes, raw little-endian data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, tensor in tensors.items():
        blob = bytes(tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8).tolist())
        header[name] = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(model_path, expected_path):
    torch.manual_seed(7)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 9), torch.nn.BatchNorm1d(9), torch.nn.ReLU(),
        torch.nn.Linear(9, 5), torch.nn.Tanh(), torch.nn.Dropout(0.2),
        torch.nn.Linear(5, 4))
    x = torch.randn(64, 6) * 1.5 + 0.3
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0.3).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(20):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    save_safetensors(model.state_dict(), model_path)
    test = torch.randn(8, 6)
    with torch.no_grad():
        output = torch.softmax(model(test).double(), dim=1)
    with open(expected_path, "w") as f:
        json.dump({"input": test.double().tolist(), "output": output.tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
