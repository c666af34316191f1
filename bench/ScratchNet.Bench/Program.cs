// ScratchNet benchmarks: one JSON object per line (suite, case, ours, peer, peer_value, unit, ratio, and
// a suite's own fields after those), ours and the peer measured in the same run, interleaved, so ratios
// survive a noisy machine.
//   dotnet run -c Release --project bench/ScratchNet.Bench -- gemm|peak|train|cnn|memory|augment|conv|all [--threads N] [--batch B] [--shape ROLE]
//     (train: the report's MLPs and the CNN recipes' step; cnn: the CNN recipes' step alone)
//   dotnet run -c Release --project bench/ScratchNet.Bench -- mpi [--data-dir DIR]   (all-reduce GB/s; Fashion-MNIST recipe on 1 and 2 ranks)
//   dotnet run -c Release --project bench/ScratchNet.Bench -- gpu [--device cuda|simulator] [--peer peer.jsonl]   (see bench/gpu-check.sh)
using ScratchNet.Bench;
using ScratchNet.Compute;

if (args.Length > 0 && args[0] == "gpu")
{
    string? Value(string option) => Array.IndexOf(args, option) is var i && i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    return GpuSuite.Run(Value("--device") ?? "cuda", Value("--peer"));
}
if (args.Length > 0 && args[0] == "mpi")
{
    int at = Array.IndexOf(args, "--data-dir");
    return MpiSuite.Run(at >= 0 && at + 1 < args.Length ? args[at + 1] : null);
}
if (args.Length > 0 && args[0] == "mpi-ranks") return MpiSuite.Ranks();   // inside each rank of bench mpi's job
// CONFIG BATCH THREADS [paired]: each layer's forward and backward milliseconds (paired: as a built network pairs them)
if (args.Length is 4 or 5 && args[0] == "cnn-layers" && (args.Length == 4 || args[4] == "paired"))
    return CnnTrainSuite.Layers(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture),
        paired: args.Length == 5);
// Inside bench cnn's child process: CONFIG BATCH THREADS SECONDS; by hand, "after-freezes" last times the step of the
// epochs after the config's freeze_after_epochs (those layers' parameters frozen).
if (args.Length is 5 or 6 && args[0] == "cnn-child" && (args.Length == 5 || args[5] == "after-freezes"))
    return CnnTrainSuite.Child(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture),
        afterFreezes: args.Length == 6);
const string usage = "usage: ScratchNet.Bench gemm|peak|train|cnn|memory|augment|conv|all [--threads N] [--batch B (conv: default 512; cnn: default the recipe's)] [--shape ROLE (conv: e.g. \"block 3 conv 2\")]  |  ScratchNet.Bench mpi [--data-dir DIR]  |  ScratchNet.Bench gpu [--device cuda|simulator] [--peer FILE]";
if (args.Any(a => a is "--help" or "-h" or "-?"))
{
    Console.WriteLine(usage);
    return 0;
}
var suites = new List<string>();
int threads = Environment.ProcessorCount;
int? batchGiven = null;
string? shapeFilter = null;
for (int i = 0; i < args.Length; i++)
{
    string arg = args[i];
    if (!arg.StartsWith('-'))
    {
        suites.Add(arg);
        continue;
    }
    if (arg is not ("--threads" or "--batch" or "--shape"))
    {
        Console.Error.WriteLine($"{arg}: unknown option ({usage})");
        return 2;
    }
    if (i + 1 >= args.Length)
    {
        Console.Error.WriteLine(arg == "--shape" ? "--shape: give a role, e.g. --shape \"block 3 conv 2\"" : $"{arg}: give a positive whole number");
        return 2;
    }
    string value = args[++i];
    if (arg == "--shape")
    {
        shapeFilter = value;
        continue;
    }
    if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number) || number <= 0)
    {
        Console.Error.WriteLine($"{arg}: \"{value}\" is not a positive whole number");
        return 2;
    }
    if (arg == "--threads") threads = number;
    else batchGiven = number;
}
int convBatch = batchGiven ?? 512;
Threading.ThreadCount = threads;
if (suites.Count == 0 || suites.Any(s => s is not ("gemm" or "peak" or "train" or "cnn" or "memory" or "augment" or "conv" or "all")))
{
    Console.Error.WriteLine(usage);
    return 2;
}
if (shapeFilter is not null && !ConvSuite.HasShape(shapeFilter))
{
    Console.Error.WriteLine($"--shape: no convolution of the recipe has a role containing \"{shapeFilter}\" (roles: whitening 2x2, block 1 conv 1 … block 3 conv 2)");
    return 2;
}
bool all = suites.Contains("all");
if (all || suites.Contains("gemm")) GemmSuite.Run(threads);
else if (suites.Contains("peak")) { var peaks = new FmaProbe.Peaks(threads); peaks.Sample(all: true, attempts: 5); peaks.Emit(); }
if (all || suites.Contains("train")) TrainSuite.Run(threads);
if (all || suites.Contains("train") || suites.Contains("cnn")) CnnTrainSuite.Run(threads, batchGiven);
if (all || suites.Contains("augment")) AugmentSuite.Run();
if (all || suites.Contains("memory")) MemorySuite.Run();
if (all || suites.Contains("conv")) ConvSuite.Run(threads, convBatch, shapeFilter);
return 0;
