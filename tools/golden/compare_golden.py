#!/usr/bin/python3
"""Compare two golden JSON files tensor by tensor: each value within tolerance * max(1, max |value|).

Usage: /usr/bin/python3 tools/golden/compare_golden.py FRESH.json COMMITTED.json [tolerance=1e-12]
Used by CI for golden scripts without a --check mode of their own: regenerate into a temporary file,
then compare, since the last bits of float64 sums may depend on the BLAS torch links."""
import json
import sys

from make_golden import mismatch  # one definition of "within tolerance" for every golden check


def main():
    fresh, kept = (json.load(open(p)) for p in sys.argv[1:3])
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-12
    failures = 0
    for name, tensor in fresh["tensors"].items():
        worst = mismatch(tensor["data"], kept["tensors"].get(name, {}).get("data", []), tolerance)
        if worst is not None:
            print("MISMATCH %s: largest difference %g" % (name, worst))
            failures += 1
    if set(kept["tensors"]) != set(fresh["tensors"]):
        print("MISMATCH: tensor names differ")
        failures += 1
    print("%s: %d mismatching tensors" % (sys.argv[2], failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
