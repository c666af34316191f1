using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.RegularExpressions;
using ScratchNet.Mpi;

namespace ScratchNet.Bench;

/// <summary>
/// Training across processes on loopback (Open MPI's mpirun): all-reduce bandwidth against message size, ours
/// (the watchdog's non-blocking MPI_Iallreduce + MPI_Test, and the ordered all-gather + rank-order sum) against
/// MPI_Allreduce itself; then samples/s of the shipped Fashion-MNIST recipe on 2 ranks against 1 process.
/// </summary>
internal static partial class MpiSuite
{
    private const string Launcher = "/usr/bin/mpirun.openmpi";
    private static readonly int[] Sizes = [4 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20];

    /// <summary>The orchestrator: starts the jobs and passes their JSON lines on.</summary>
    public static int Run(string? dataDirectory)
    {
        if (!File.Exists(Launcher))
        {
            Console.Error.WriteLine($"bench mpi: {Launcher} is not installed (apt-get install openmpi-bin libopenmpi-dev)");
            return 1;
        }
        string bench = Path.Combine(AppContext.BaseDirectory, "ScratchNet.Bench.dll");
        var (exit, output) = Job(2, [bench, "mpi-ranks"]);
        Console.Write(output.Replace("\u001b[?1h\u001b=", ""));   // the keypad mode .NET's console sets when Open MPI gives a rank a terminal
        if (exit != 0) return exit;

        string? data = dataDirectory ?? (Directory.Exists("../shared/data/fashion-mnist") ? "../shared/data" : null);
        string config = Path.Combine(Repository(), "experiments", "fashion-mnist-mlp.json");
        if (data is null)
        {
            Report.Emit("mpi", "fashion-mnist recipe", 0, null, null, "samples/s", "skipped: no Fashion-MNIST (give --data-dir DIR holding fashion-mnist/)");
            return 0;
        }
        string cli = Path.Combine(AppContext.BaseDirectory, "ScratchNet.Cli.dll");
        string[] train(string folder) => [cli, "train", "--config", config, "--epochs", "2", "--data-dir", data, "--out", folder, "--overwrite"];
        string work = Path.Combine(Path.GetTempPath(), $"scratchnet-bench-mpi-{Environment.ProcessId}");
        try
        {
            double one = SamplesPerSecond(Local([.. train(Path.Combine(work, "one")), "--threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)]));
            foreach (string reduce in (string[])["ordered", "fast"])
            {
                double two = SamplesPerSecond(Job(2, [.. train(Path.Combine(work, reduce)), "--reduce", reduce]));
                Report.Emit("mpi", $"fashion-mnist recipe (experiments/fashion-mnist-mlp.json, 2 epochs), 2 ranks × {Math.Max(1, Environment.ProcessorCount / 2)} threads, {reduce} reduction",
                    two, $"1 process × {Environment.ProcessorCount} threads", one, "samples/s");
            }
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
        return 0;
    }

    /// <summary>Inside every rank: the all-reduce timings; rank 0 prints them.</summary>
    public static int Ranks()
    {
        using var group = MpiProcessGroup.Initialize(MpiLaunch.Current);
        foreach (int bytes in Sizes)
        {
            int count = bytes / sizeof(float);
            var buffer = new float[count];
            var gathered = new float[count * group.Size];
            var sum = new float[count];
            int repeats = Math.Clamp((64 << 20) / bytes, 4, 400);
            double fast = Best(group, repeats, () => group.AllReduceSum<float>(buffer));
            double peer = Best(group, repeats, () => group.BlockingAllReduceSum(buffer));
            double ordered = Best(group, repeats, () =>
            {
                group.AllGather<float>(buffer, gathered);
                gathered.AsSpan(0, count).CopyTo(sum);
                for (int r = 1; r < group.Size; r++) TensorPrimitives.Add(sum, gathered.AsSpan(r * count, count), sum);
            });
            if (group.Rank != 0) continue;
            string size = bytes >= 1 << 20 ? $"{bytes >> 20} MB" : $"{bytes >> 10} KB";
            foreach (var (name, seconds) in (ReadOnlySpan<(string, double)>)[("fast (MPI_Iallreduce + MPI_Test watchdog)", fast), ("ordered (all-gather + rank-order sum)", ordered)])
                Report.Emit("mpi", $"all-reduce {size} float32, {group.Size} ranks, {name}", bytes / seconds / 1e9, "MPI_Allreduce", bytes / peer / 1e9, "GB/s",
                    extra: [new("ms_per_mb", Math.Round(seconds * 1e3 / (bytes / 1048576.0), 4)), new("library", $"{group.Library} ({group.Version})")], digits: 3);
        }
        return 0;
    }

    // Seconds per call: the best of three timed batches of the same length on every rank (a collective must be called
    // as often everywhere), each started together.
    private static double Best(MpiProcessGroup group, int repeats, Action call)
    {
        for (int i = 0; i < Math.Min(repeats, 10); i++) call();
        double best = double.MaxValue;
        for (int batch = 0; batch < 3; batch++)
        {
            group.Barrier();
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < repeats; i++) call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / repeats);
        }
        return best;
    }

    private static (int Exit, string Output) Job(int ranks, string[] args) =>
        Start(Launcher, ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(CultureInfo.InvariantCulture), Dotnet, .. args]);

    private static (int Exit, string Output) Local(string[] args) => Start(Dotnet, args);

    private static (int Exit, string Output) Start(string program, string[] args)
    {
        var start = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) Console.Error.Write(error.Result);
        return (process.ExitCode, output);
    }

    private static double SamplesPerSecond((int Exit, string Output) run)
    {
        var match = FinalLine().Match(run.Output);
        if (run.Exit != 0 || !match.Success) throw new InvalidOperationException($"bench mpi: the training run failed (exit {run.Exit}):\n{run.Output}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    // The folder with experiments/: up from the bench's output folder.
    private static string Repository()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (Directory.Exists(Path.Combine(folder.FullName, "experiments"))) return folder.FullName;
        return Directory.GetCurrentDirectory();
    }

    [GeneratedRegex(@"^# final: .*?, ([0-9.]+) samples/s", RegexOptions.Multiline)]
    private static partial Regex FinalLine();
}
