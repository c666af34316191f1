#!/usr/bin/env python3
"""Checks a notebook that dotnet-repl ran: no cell failed, the figures are there as PNGs, the accuracies hold.

Usage: check_notebook.py OUT.ipynb [--images]

Requires: no error output; at least 3 embedded PNG images (the linear and digits curves, the digits
confusion heatmap) and 3 HTML tables (the network summary, the two histories); the lines `linear validation accuracy: A`
(A >= 0.99, the report's 0.9985 over seeds is >= 0.993) and `digits validation accuracy: A` (>= 0.95).
With --images (the data folder was given) also `fashion-mnist validation accuracy` and
`cifar-10 validation accuracy` above chance (0.10; one epoch in CI), or their `skipped` lines.
"""
import base64
import json
import re
import sys

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()[:10]


def main(path, images):
    nb = json.load(open(path, encoding="utf-8"))
    text, errors, pngs, tables = [], [], 0, 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                errors.append(f"{out.get('ename')}: {out.get('evalue')}")
            body = "".join(out.get("text", [])) + "".join("".join(v) if isinstance(v, list) else str(v) for v in out.get("data", {}).values())
            text.append(body)
            pngs += len(re.findall(r"data:image/png;base64," + re.escape(PNG), body))
            tables += body.count("<table>")
    text = "\n".join(text)
    faults = [f"cell error {e}" for e in errors]
    if pngs < 3:
        faults.append(f"{pngs} embedded PNG images, expected at least 3 (two curves, one heatmap)")
    if tables < 3:
        faults.append(f"{tables} HTML tables, expected at least 3 (a network summary, two histories)")
    bounds = {"linear": 0.99, "digits": 0.95}
    if images:
        bounds.update({"fashion-mnist": 0.10, "cifar-10": 0.10})
    for name, bound in bounds.items():
        m = re.search(rf"{name} validation accuracy: ([0-9.]+)", text)
        if m:
            ok = float(m.group(1)) >= bound
            print(f"{'ok  ' if ok else 'FAIL'} {name} validation accuracy {m.group(1)} (>= {bound})")
            if not ok:
                faults.append(f"{name} accuracy {m.group(1)} < {bound}")
        elif images and name in ("fashion-mnist", "cifar-10") and re.search(rf"{name}: skipped", text):
            print(f"skip {name}: its files are not in the data folder")
        else:
            faults.append(f"no '{name} validation accuracy' line")
    print(f"{pngs} PNG images, {tables} tables")
    for f in faults:
        print(f"FAIL {f}")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--images" in sys.argv[2:]))
