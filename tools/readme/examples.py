#!/usr/bin/env python3
"""Compiles (and runs) the C# examples of the README files, so that a documentation example that does
not work fails CI.

Usage: examples.py OUT_DIR REPO_ROOT MARKDOWN...

Every ```csharp block becomes a method of one console project in OUT_DIR (its `using` lines hoisted to
the top), referencing the repository's library projects, built with warnings as errors. Names the
examples use without declaring them (net, client, history, x, y, ...: the running example the README
builds up) become parameters of the method, so every block compiles on its own. A block preceded by
the line `<!-- example: run -->` declares everything itself; `dotnet run -- NAME` runs it (NAME: the
file stem and block number, printed in the listing). Blocks that start with `#r` (notebook syntax)
are skipped.
"""
import pathlib
import re
import sys

# What the README's running example holds, by the names its snippets use.
CONTEXT = {
    "net": "Network<float>", "client": "Trainer<float>", "trainer": "Trainer<float>", "history": "History",
    "x": "Matrix<float>", "y": "Matrix<float>", "testSet": "ISampleSource<float>", "json": "string",
    "options": "TrainOptions", "cancellationToken": "CancellationToken",
}
DEFAULT_USINGS = ["System", "ScratchNet", "ScratchNet.Data", "ScratchNet.Losses", "ScratchNet.Optimizers",
                  "ScratchNet.Optimizers.Schedules", "ScratchNet.Persistence", "ScratchNet.Training"]
PROJECTS = ["src/ScratchNet/ScratchNet.csproj", "src/ScratchNet.Plots/ScratchNet.Plots.csproj",
            "src/ScratchNet.Onnx/ScratchNet.Onnx.csproj", "src/ScratchNet.Gpu/ScratchNet.Gpu.csproj",
            "src/ScratchNet.Mpi/ScratchNet.Mpi.csproj"]


def blocks(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    # README.md at the root: Readme1, Readme2, ...; src/ScratchNet.Plots/README.md: ScratchNetPlots1, ...
    slug = "Readme" if path.resolve().parent == pathlib.Path.cwd().resolve() else path.resolve().parent.name.replace(".", "")
    i, n = 0, 0
    while i < len(lines):
        if lines[i].strip() == "```csharp":
            run = i > 0 and lines[i - 1].strip() == "<!-- example: run -->"
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            n += 1
            yield f"{slug}{n}", i + 1, lines[i + 1:j], run
            i = j
        i += 1


def main(out, root, markdowns):
    out, root = pathlib.Path(out), pathlib.Path(root).resolve()
    usings, methods, names = set(DEFAULT_USINGS), [], []
    for md in markdowns:
        path = pathlib.Path(md)
        for name, line, body, run in blocks(path):
            if body and body[0].startswith("#r"):
                continue
            code = [l for l in body if not re.match(r"\s*using [\w.]+;\s*$", l)]
            usings.update(m.group(1) for l in body if (m := re.match(r"\s*using ([\w.]+);\s*$", l)))
            text = "\n".join(code)
            params = [] if run else [f"{t} {v}" for v, t in CONTEXT.items()
                                     if re.search(rf"\b{v}\b", text) and not re.search(rf"(\bvar|[\w>?\]]) +{v} *=|\bvar \([^)]*\b{v}\b", text)]
            names.append(name)
            methods.append(f"// {path}:{line}\n#line {line + 1} \"{path.resolve()}\"\n"
                           f"static async Task {name}({', '.join(params)})\n{{\n{text}\n    await Task.CompletedTask;\n}}\n#line default\n"
                           + (f"if (args is [\"{name}\"]) {{ await {name}(); return 0; }}\n" if run else ""))
    program = "".join(f"using {u};\n" for u in sorted(usings))
    program += "#pragma warning disable CS8321 // examples that only compile are never called\n"
    program += "".join(methods)
    program += f"Console.Error.WriteLine(\"examples: {', '.join(names)}; run one by name (those marked to run)\");\nreturn 2;\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "Program.cs").write_text(program, encoding="utf-8")
    refs = "".join(f'    <ProjectReference Include="{root / p}" />\n' for p in PROJECTS)
    (out / "ReadmeExamples.csproj").write_text(f"""<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
{refs}  </ItemGroup>
</Project>
""", encoding="utf-8")
    print("\n".join(names))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
