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
if (args.Length == 4 && args[0] == "cnn-layers")   // CONFIG BATCH THREADS: each layer's forward and backward milliseconds
    return CnnTrainSuite.Layers(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
if (args.Length == 5 && args[0] == "cnn-child")   // inside bench cnn's child process: CONFIG BATCH THREADS SECONDS
    return CnnTrainSuite.Child(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
var suites = args.Where(a => !a.StartsWith("--")).ToList();
int threadsAt = Array.IndexOf(args, "--threads");
int threads = threadsAt >= 0 && threadsAt + 1 < args.Length && int.TryParse(args[threadsAt + 1], out int t) && t > 0 ? t : Environment.ProcessorCount;
if (threadsAt >= 0) suites.Remove(args[threadsAt + 1]);
int batchAt = Array.IndexOf(args, "--batch");
int? batchGiven = batchAt >= 0 && batchAt + 1 < args.Length && int.TryParse(args[batchAt + 1], out int b) && b > 0 ? b : null;
int convBatch = batchGiven ?? 512;
if (batchAt >= 0) suites.Remove(args[batchAt + 1]);
int shapeAt = Array.IndexOf(args, "--shape");   // conv: only the convolutions whose role contains this text ("block 3 conv 2")
string? shapeFilter = shapeAt >= 0 && shapeAt + 1 < args.Length ? args[shapeAt + 1] : null;
if (shapeFilter is not null) suites.Remove(shapeFilter);
Threading.ThreadCount = threads;
if (suites.Count == 0 || suites.Any(s => s is not ("gemm" or "peak" or "train" or "cnn" or "memory" or "augment" or "conv" or "all")))
{
    Console.Error.WriteLine("usage: ScratchNet.Bench gemm|peak|train|cnn|memory|augment|conv|all [--threads N] [--batch B (conv: default 512; cnn: default the recipe's)] [--shape ROLE (conv: e.g. \"block 3 conv 2\")]  |  ScratchNet.Bench mpi [--data-dir DIR]  |  ScratchNet.Bench gpu [--device cuda|simulator] [--peer FILE]");
    return 2;
}
if (shapeAt >= 0 && shapeFilter is null)
{
    Console.Error.WriteLine("--shape: give a role, e.g. --shape \"block 3 conv 2\"");
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
