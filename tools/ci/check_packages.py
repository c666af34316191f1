#!/usr/bin/env python3
"""Checks every package in a folder: nuspec metadata, what is packed beside the code, symbols.

Usage: check_packages.py FOLDER

Each .nupkg: MIT licence expression, authors, a real description, tags, readme and icon named and packed,
LICENSE packed, no repository URL; a library's lib/ assembly has its XML docs; every package with code
has its .snupkg; THIRD-PARTY-NOTICES.txt in the packages that carry third-party works (the digits in
ScratchNet, DejaVu Sans in ScratchNet.Plots, both in the tool); each RID-specific tool package carries
only its own runtime's natives. Prints one line per package; exits 1 on any fault.
"""
import pathlib
import re
import sys
import xml.etree.ElementTree as ET
import zipfile

LIBRARIES = {"ScratchNet", "ScratchNet.Plots", "ScratchNet.Onnx", "ScratchNet.Gpu", "ScratchNet.Interactive", "ScratchNet.Mpi"}
NOTICES = {"ScratchNet", "ScratchNet.Plots", "ScratchNet.Cli"}
TOOL_RIDS = {"linux-x64", "linux-arm64", "osx-arm64", "osx-x64", "win-x64"}


def check(path, folder):
    faults = []
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        nuspec = next(n for n in names if n.endswith(".nuspec") and "/" not in n)
        root = ET.fromstring(z.read(nuspec))
        ns = {"n": root.tag[1:root.tag.index("}")]}
        meta = root.find("n:metadata", ns)
        get = lambda tag: (meta.findtext(f"n:{tag}", default="", namespaces=ns) or "").strip()
        pid, version = get("id"), get("version")
        base = pid.split(".linux-")[0].split(".osx-")[0].split(".win-")[0]
        license = meta.find("n:license", ns)
        if license is None or license.get("type") != "expression" or license.text != "MIT":
            faults.append("licence is not the expression MIT")
        if get("authors") != "The ScratchNet authors":
            faults.append(f"authors '{get('authors')}'")
        if len(get("description")) < 40 or get("description") == "Package Description":
            faults.append(f"description '{get('description')}'")
        if not get("tags"):
            faults.append("no tags")
        for tag, file in (("readme", "README.md"), ("icon", "icon.png")):
            if get(tag) != file or file not in names:
                faults.append(f"{tag} not packed as {file}")
        if "LICENSE" not in names:
            faults.append("LICENSE not packed")
        if (base in NOTICES) != ("THIRD-PARTY-NOTICES.txt" in names):
            faults.append("THIRD-PARTY-NOTICES.txt " + ("missing" if base in NOTICES else "packed where nothing third-party is"))
        repository = meta.find("n:repository", ns)
        if repository is not None and repository.get("url"):
            faults.append("a repository URL (the project has no public home)")
        dlls = [n for n in names if n.endswith(".dll")]
        if pid in LIBRARIES:
            lib = f"lib/net10.0/{pid}.dll"
            if lib not in names or f"lib/net10.0/{pid}.xml" not in names:
                faults.append("no lib/net10.0 assembly with its XML docs")
        if pid.startswith("ScratchNet.Cli."):
            rid = pid[len("ScratchNet.Cli."):]
            natives = {m.group(1) for n in names if (m := re.match(r"tools/net10\.0/([^/]+)/", n))}
            if natives != {rid}:
                faults.append(f"tool folders {sorted(natives)}, expected only {rid}")
            if any("/runtimes/" in n for n in names):
                faults.append("natives of other runtimes (a runtimes/ folder)")
        if pid == "ScratchNet.Cli" and dlls:
            faults.append("the pointer package holds code")
        if dlls and not (folder / f"{pid}.{version}.snupkg").exists():
            faults.append("no .snupkg beside it")
    kb = path.stat().st_size // 1024
    print(f"{'ok  ' if not faults else 'FAIL'} {path.name} ({kb:,} KB){': ' + '; '.join(faults) if faults else ''}")
    return pid, faults


def main(folder):
    folder = pathlib.Path(folder)
    results = [check(p, folder) for p in sorted(folder.glob("*.nupkg"))]
    ids = {pid for pid, _ in results}
    missing = (LIBRARIES | {"ScratchNet.Cli"} | {f"ScratchNet.Cli.{r}" for r in TOOL_RIDS}) - ids
    if missing:
        print(f"FAIL missing packages: {sorted(missing)}")
    return 1 if missing or any(f for _, f in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
