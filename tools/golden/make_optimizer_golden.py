#!/usr/bin/python3
"""Generate golden values for ScratchNet's optimisers, gradient clipping and learning-rate schedules.

torch.optim and torch.optim.lr_scheduler (float64) are the reference. No network: both sides start
from the same parameters and are fed the same fixed sequence of gradients, so only the update rules
are compared.

Usage:
    /usr/bin/python3 tools/golden/make_optimizer_golden.py [outdir]
    /usr/bin/python3 tools/golden/make_optimizer_golden.py --check DIR   (recompute; compare with DIR's files)
    (default outdir: tests/ScratchNet.Tests/Golden/Optimizers, relative to the repo root)

Optimiser files, optim_<case>.json, one per configuration:
    {"case", "optimizer", "config": {torch keyword arguments}, "clip": max_norm or null, "steps": 5,
     "tensors": {name: {"shape", "data"}}}
    W [3,4], b [4]                     initial parameters
    dW_k, db_k (k = 0..4)              the gradient fed at step k (before clipping)
    W_k, b_k (k = 0..4)                the parameters after step k
    norms [5]                          global gradient norm before clipping (clip cases only)
Schedule file, optim_schedules.json:
    {"schedules": {name: {"kind", "config", "rates": [lr of epochs 0..9], "metrics": [...] (plateau)}}}
    the rate of epoch e is the optimiser's lr while epoch e runs; scheduler.step() follows each epoch.
    Per-step schedules (triangular, one_cycle) give the rate of every step 0..total_steps-1 instead.
Optimiser configs may carry keys that are not torch keywords: bias_lr_scale and bias_weight_decay put b in
a second parameter group (lr * scale, that weight decay); decoupled makes weight_decay p <- p*(1 - lr*wd)
before a step without decay; freeze_bias_from k freezes b from step k on (no gradient; db_k is still drawn and
written, and ScratchNet is fed it, so that the test proves a frozen parameter ignores its gradient).
"""
import json
import os
import sys
import warnings

import numpy

try:
    import torch
except ImportError:
    sys.exit("make_optimizer_golden.py: PyTorch is required (Debian: apt-get install python3-torch, "
             "then run with /usr/bin/python3)")

from make_golden import f32, mismatch, write_case  # same float32-exact inputs and file layout as the network cases

# SequentialLR steps its second scheduler with an explicit epoch at the milestone, which torch itself warns about.
warnings.filterwarnings("ignore", message="The epoch parameter")

STEPS = 5
EPOCHS = 10
DEFAULT_OUTDIR = os.path.join("tests", "ScratchNet.Tests", "Golden", "Optimizers")
# Gradient scales per step: large and small, so clipping acts on some steps and not on others.
GRAD_SCALES = [0.5, 3.0, 1.0, 0.1, 2.0]

OPTIMIZERS = [
    # (case, optimizer, torch kwargs, clip max_norm or None)
    ("sgd_momentum", "sgd", {"lr": 0.1, "momentum": 0.9}, None),
    ("sgd_nesterov", "sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("adam", "adam", {"lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-8}, None),
    ("adam_betas", "adam", {"lr": 0.02, "betas": [0.8, 0.9], "eps": 1e-3}, None),
    ("adamw", "adamw", {"lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1}, None),
    ("rmsprop", "rmsprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8}, None),
    ("rmsprop_momentum", "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5}, None),
    ("clip_sgd_momentum", "sgd", {"lr": 0.1, "momentum": 0.9}, 2.0),
    ("clip_adam", "adam", {"lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-8}, 1.0),
    # torch's SGD weight decay (coupled: g + wd*p), Nesterov, as airbench's optimiser
    ("sgd_nesterov_wd", "sgd", {"lr": 0.1, "momentum": 0.85, "nesterov": True, "weight_decay": 0.05}, None),
    # two parameter groups as airbench's: the bias at lr*64 with weight_decay/64 (keys bias_* build the second group)
    ("sgd_nesterov_groups", "sgd", {"lr": 0.1, "momentum": 0.85, "nesterov": True, "weight_decay": 0.05,
                                    "bias_lr_scale": 64.0, "bias_weight_decay": 0.05 / 64}, None),
    # decoupled weight decay on SGD: p <- p*(1 - lr*wd) before torch's SGD step without decay (AdamW's rule)
    ("sgd_nesterov_decoupled", "sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05, "decoupled": True}, None),
    ("adamw_groups", "adamw", {"lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1,
                               "bias_lr_scale": 4.0, "bias_weight_decay": 0.0}, None),
    # b frozen from a step on (requires_grad False, no gradient: torch skips it), as airbench's whitening bias after
    # three epochs: no step, no decay, no momentum for it, and clipping leaves it out of the norm
    ("sgd_nesterov_wd_frozen_bias", "sgd", {"lr": 0.1, "momentum": 0.85, "nesterov": True, "weight_decay": 0.05,
                                            "freeze_bias_from": 2}, None),
    ("clip_adam_frozen_bias", "adam", {"lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-8, "freeze_bias_from": 3}, 1.0),
]

TORCH_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
                    "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}


def run_optimizer(optimizer, config, clip, seed):
    torch.manual_seed(seed)
    W = f32(torch.randn(3, 4, dtype=torch.float64) * 0.5).requires_grad_()
    b = f32(torch.randn(4, dtype=torch.float64) * 0.1).requires_grad_()
    t = {"W": W.detach().clone(), "b": b.detach().clone()}
    kwargs = dict(config)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    decoupled = kwargs.pop("decoupled", False)
    freeze_bias_from = kwargs.pop("freeze_bias_from", STEPS)
    decay = kwargs["weight_decay"] if decoupled else 0.0
    if decoupled:
        kwargs["weight_decay"] = 0.0
    if "bias_lr_scale" in kwargs:
        groups = [{"params": [W]}, {"params": [b], "lr": kwargs["lr"] * kwargs.pop("bias_lr_scale"),
                                    "weight_decay": kwargs.pop("bias_weight_decay")}]
    else:
        groups = [W, b]
    opt = TORCH_OPTIMIZERS[optimizer](groups, **kwargs)
    norms = []
    for k in range(STEPS):
        dW = f32(torch.randn(3, 4, dtype=torch.float64) * GRAD_SCALES[k])
        db = f32(torch.randn(4, dtype=torch.float64) * GRAD_SCALES[k])
        t["dW_%d" % k], t["db_%d" % k] = dW, db
        W.grad, b.grad = dW.clone(), db.clone()
        if k >= freeze_bias_from:
            b.requires_grad_(False)
            b.grad = None
        if clip is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_([W, b], clip)))
        if decoupled:
            with torch.no_grad():
                for p in (W, b):
                    p.mul_(1 - kwargs["lr"] * decay)
        opt.step()
        t["W_%d" % k], t["b_%d" % k] = W.detach().clone(), b.detach().clone()
    if clip is not None:
        t["norms"] = torch.tensor(norms, dtype=torch.float64)
    return t


SCHEDULES = [
    # (name, kind, config)
    ("step", "step", {"lr": 0.1, "step_size": 3, "gamma": 0.5}),
    ("exponential", "exponential", {"lr": 0.1, "gamma": 0.8}),
    ("warmup_cosine", "warmup_cosine", {"lr": 0.1, "warmup": 3, "total": 10, "eta_min": 0.001, "start_factor": 0.1}),
    ("cosine_no_warmup", "warmup_cosine", {"lr": 0.05, "warmup": 0, "total": 10, "eta_min": 0.0, "start_factor": 1.0}),
    ("plateau", "plateau", {"lr": 0.1, "factor": 0.5, "patience": 1, "threshold": 0.01, "cooldown": 1, "min_lr": 0.01,
                            "metrics": [1.0, 0.9, 0.895, 0.899, 0.7, 0.71, 0.72, 0.73, 0.74, 0.6]}),
    ("plateau_max", "plateau", {"lr": 0.1, "factor": 0.1, "patience": 2, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0,
                                "mode": "max", "metrics": [0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.65, 0.7, 0.7, 0.7]}),
    # per-step schedules: the rate of every step of a run of total_steps
    ("triangular", "triangular", {"lr": 0.4, "total_steps": 37, "peak": 0.2, "start": 0.2, "end": 0.0}),
    ("triangular_late", "triangular", {"lr": 0.1, "total_steps": 10, "peak": 0.55, "start": 0.5, "end": 0.07}),
    ("one_cycle", "one_cycle", {"lr": 0.5, "total_steps": 41, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}),
    ("one_cycle_short", "one_cycle", {"lr": 0.2, "total_steps": 12, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
]


def run_schedule(kind, config):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=config["lr"])
    if kind == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=config["step_size"], gamma=config["gamma"])
    elif kind == "exponential":
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config["gamma"])
    elif kind == "triangular":
        # airbench: LambdaLR over np.interp(step, [0, int(peak*total), total], [start, 1, end])
        total = config["total_steps"]
        knots = [0, int(config["peak"] * total), total]
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: float(numpy.interp(step, knots, [config["start"], 1.0, config["end"]])))
    elif kind == "one_cycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=config["lr"], total_steps=config["total_steps"], pct_start=config["pct_start"],
            div_factor=config["div_factor"], final_div_factor=config["final_div_factor"],
            anneal_strategy="linear", three_phase=False, cycle_momentum=False)
    elif kind == "warmup_cosine":
        warmup, total = config["warmup"], config["total"]
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=config["eta_min"])
        if warmup == 0:
            sched = cosine
        else:
            linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=config["start_factor"], total_iters=warmup)
            sched = torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[warmup])
    else:
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=config.get("mode", "min"), factor=config["factor"], patience=config["patience"],
            threshold=config["threshold"], threshold_mode="rel", cooldown=config["cooldown"], min_lr=config["min_lr"])
    rates = []
    for epoch in range(config.get("total_steps", EPOCHS)):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if kind == "plateau":
            sched.step(config["metrics"][epoch])
        else:
            sched.step()
    return rates


def optimizer_cases():
    for seed, (case, optimizer, config, clip) in enumerate(OPTIMIZERS, start=100):
        meta = {"case": case, "optimizer": optimizer, "config": config, "clip": clip, "steps": STEPS}
        yield "optim_" + case, meta, run_optimizer(optimizer, config, clip, seed)


def schedules():
    return {"schedules": {name: {"kind": kind, "config": config, "rates": run_schedule(kind, config)}
                          for name, kind, config in SCHEDULES}}


def check(golden_dir, tolerance=1e-12):
    """Recompute everything and compare with golden_dir's files, within tolerance · max(1, max |value|)."""
    failures = 0
    for name, _, tensors in optimizer_cases():
        with open(os.path.join(golden_dir, name + ".json")) as f:
            stored = json.load(f)["tensors"]
        for key, tensor in tensors.items():
            worst = mismatch(tensor.flatten().tolist(), stored[key]["data"], tolerance)
            if worst is not None:
                print("MISMATCH %s %s: largest difference %g" % (name, key, worst))
                failures += 1
    with open(os.path.join(golden_dir, "optim_schedules.json")) as f:
        stored = json.load(f)["schedules"]
    for name, entry in schedules()["schedules"].items():
        if any(abs(a - b) > tolerance for a, b in zip(entry["rates"], stored[name]["rates"])):
            print("MISMATCH schedule %s" % name)
            failures += 1
    print("optimizer golden check: %d mismatches" % failures)
    return failures


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        sys.exit(1 if check(sys.argv[2]) else 0)
    outdir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTDIR
    os.makedirs(outdir, exist_ok=True)
    for name, meta, tensors in optimizer_cases():
        write_case(os.path.join(outdir, name + ".json"), meta, tensors)
        print("wrote", os.path.join(outdir, name + ".json"))
    path = os.path.join(outdir, "optim_schedules.json")
    with open(path, "w") as f:
        json.dump(schedules(), f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
