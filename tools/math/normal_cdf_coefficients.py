#!/usr/bin/python3
"""Derives the Chebyshev coefficients of ScratchNet's standard normal CDF (src/ScratchNet/Compute/NormalCdf.cs).

.NET has no erf, so the exact GELU, x·Φ(x), needs one of its own. For z = |x|/√2 ≥ 0,

    ½·erfc(z) = ½·t·e^(−z²)·Q(t),    t = 2/(2 + z) ∈ (0, 1],

where Q(t) = erfc(z)·e^(z²)/t is smooth on [0, 1] (Q(1) = 1, Q(0) = 1/(2√π)), so a short Chebyshev series in
u = 2t − 1 = (2 − z)/(2 + z) holds it everywhere: Φ(x) = ½·erfc(z) for x < 0 and 1 − ½·erfc(z) otherwise. The same
e^(−z²) = e^(−x²/2) gives the density φ(x) = e^(−x²/2)/√(2π) that GELU's backward needs, so one exponential serves both.

The coefficients are Q's Chebyshev series at 60 digits (a discrete cosine transform on 96 Chebyshev nodes), cut at
the degree where the series is below the precision: 10 for float (largest relative error of Q 1.2e-8), 26 for
double (1.4e-17). The script prints them as C# and the largest relative error of each cut series on 4,001 points,
evaluated with mpmath, so that the numbers in the code can be checked against their derivation:

    /usr/bin/python3 tools/math/normal_cdf_coefficients.py        (needs mpmath: Debian python3-mpmath)
    /usr/bin/python3 tools/math/normal_cdf_coefficients.py --check src/ScratchNet/Compute/NormalCdf.cs

--check compares the derived coefficients with the arrays SingleSeries and DoubleSeries of that file, digit for
digit as printed (CI runs it).
"""
import re
import sys

import mpmath as mp

mp.mp.dps = 60
NODES = 96
DEGREES = {"float": 10, "double": 26}


def q(u):
    t = (u + 1) / 2
    if t == 0:
        return 1 / (2 * mp.sqrt(mp.pi))
    z = 2 / t - 2
    return mp.erfc(z) * mp.exp(z * z) / t


def chebyshev(n_nodes):
    theta = [mp.pi * (k + mp.mpf(0.5)) / n_nodes for k in range(n_nodes)]
    values = [q(mp.cos(a)) for a in theta]
    coefficients = []
    for j in range(n_nodes):
        c = 2 * mp.fsum(v * mp.cos(j * a) for v, a in zip(values, theta)) / n_nodes
        coefficients.append(c / 2 if j == 0 else c)
    return coefficients


def clenshaw(c, u):
    b1 = b2 = mp.mpf(0)
    for ck in reversed(c[1:]):
        b1, b2 = ck + 2 * u * b1 - b2, b1
    return c[0] + u * b1 - b2


def literals(c, kind):
    suffix = "f" if kind == "float" else ""
    digits = 9 if kind == "float" else 17
    return [mp.nstr(v, digits, strip_zeros=False, min_fixed=0, max_fixed=1) + suffix for v in c[:DEGREES[kind] + 1]]


def check(path):
    source = open(path).read()
    c = chebyshev(NODES)
    failures = 0
    for kind, name in (("float", "SingleSeries"), ("double", "DoubleSeries")):
        found = re.search(name + r"\s*=\s*\[([^\]]*)\]", source)
        committed = re.findall(r"-?[0-9.]+e-?[0-9]+f?", found.group(1)) if found else []
        if committed != literals(c, kind):
            print(f"MISMATCH {path}: {name} is not what the derivation gives")
            failures += 1
    print(f"{path}: {failures} mismatching series")
    sys.exit(1 if failures else 0)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    c = chebyshev(NODES)
    points = [mp.mpf(-1) + mp.mpf(2) * i / 4000 for i in range(4001)]
    for kind, degree in DEGREES.items():
        worst = max(abs(clenshaw(c[:degree + 1], u) / q(u) - 1) for u in points)
        print(f"// {kind}: degree {degree}, largest relative error of Q {mp.nstr(worst, 3)}")
        print(f"{kind}[] = [" + ", ".join(literals(c, kind)) + "];")


if __name__ == "__main__":
    main()
