using System.Diagnostics;
using ScratchNet.Tests.Cli;
using ScratchNet.Tests.DataFormats;

namespace ScratchNet.Tests.Mpi;

/// <summary>
/// Training across processes on loopback, as users launch it: mpirun jobs of 1, 2, 3 and 4 ranks, of the built CLI
/// and of the probe (tests/ScratchNet.Mpi.Probe), on Open MPI and on MPICH. Skipped, with the reason, where a launcher
/// is not installed (.ci/run installs both).
/// </summary>
[Collection(MpiCollection.Name)]
public sealed class MpiTests
{
    // A small run of the digits (embedded): 1,438 training rows, 30 global batches of 48 per epoch.
    private static readonly string[] Digits = ["train", "--dataset", "digits", "--layers", "32", "--epochs", "2", "--batch-size", "48", "--seed", "5"];

    [MpiTheory(Launcher.OpenMpi)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Open_MPI_collectives_are_exact_on_integer_valued_data(int ranks) => Collectives(Launcher.OpenMpi, ranks);

    [MpiTheory(Launcher.Mpich)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void MPICH_collectives_are_exact_on_integer_valued_data(int ranks) => Collectives(Launcher.Mpich, ranks);

    private static void Collectives(Launcher launcher, int ranks)
    {
        using var folder = new TempFolder();
        var (exit, output, error, _) = MpiJob.Run(launcher, ranks, MpiJob.Probe, ["collectives"], folder.Path);
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        for (int rank = 0; rank < ranks; rank++)
            Assert.Contains($"ok rank {rank} of {ranks}: {(launcher == Launcher.OpenMpi ? "libmpi.so.40" : "libmpich.so.12")}", output);
        Assert.DoesNotContain("FAIL", output);
    }

    [MpiTheory(Launcher.OpenMpi)]
    [InlineData(2, "sgd", null)]
    [InlineData(4, "adam", "0.2")]
    [InlineData(1, "sgd", "0.2")]
    [InlineData(2, "adam", "0.2", 3)]
    public void Open_MPI_ranks_with_the_ordered_reduction_give_the_weights_of_one_process_accumulating_as_many_parts(int ranks, string optimizer, string? dropout, int accumulate = 1) =>
        OrderedEqualsAccumulation(Launcher.OpenMpi, ranks, optimizer, dropout, accumulate);

    [MpiTheory(Launcher.Mpich)]
    [InlineData(3, "sgd", "0.3")]
    public void MPICH_ranks_with_the_ordered_reduction_give_the_weights_of_one_process_accumulating_as_many_parts(int ranks, string optimizer, string? dropout) =>
        OrderedEqualsAccumulation(Launcher.Mpich, ranks, optimizer, dropout);

    // N ranks, each accumulating A micro-batches (A = 1: none), against one process accumulating N·A.
    private static void OrderedEqualsAccumulation(Launcher launcher, int ranks, string optimizer, string? dropout, int accumulate = 1)
    {
        using var folder = new TempFolder();
        string[] run = [.. Digits, "--optimizer", optimizer, .. dropout is null ? Array.Empty<string>() : ["--dropout", dropout]];
        string single = Path.Combine(folder.Path, "single"), parallel = Path.Combine(folder.Path, "parallel");
        // One part is the plain step (no accumulation), as without a launcher.
        string[] Accumulate(int parts) => parts == 1 ? [] : ["--accumulate", parts.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var one = CliRunner.Run([.. run, .. Accumulate(ranks * accumulate), "--out", single]);
        Assert.True(one.ExitCode == 0, one.Error);
        var (exit, output, error, _) = MpiJob.Run(launcher, ranks, MpiJob.Cli, [.. run, .. Accumulate(accumulate), "--out", parallel], folder.Path);
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        if (ranks > 1) Assert.Contains($"# data-parallel on {ranks} ranks", output);
        Assert.Equal(MpiJob.History(single), MpiJob.History(parallel));
        Assert.Equal(MpiJob.TensorBytes(Path.Combine(single, "model.safetensors")), MpiJob.TensorBytes(Path.Combine(parallel, "model.safetensors")));
        // Rank 0 alone printed: one E line per epoch.
        Assert.Equal(3, output.Split('\n').Count(l => l.StartsWith("E: ", StringComparison.Ordinal)));
    }

    [MpiFact(Launcher.OpenMpi)]
    public void The_fast_reduction_matches_the_ordered_one_within_1e_5()
    {
        using var folder = new TempFolder();
        string ordered = Path.Combine(folder.Path, "ordered"), fast = Path.Combine(folder.Path, "fast");
        foreach (var (out_, reduce) in (ReadOnlySpan<(string, string)>)[(ordered, "ordered"), (fast, "fast")])
        {
            var (exit, output, error, _) = MpiJob.Run(Launcher.OpenMpi, 4, MpiJob.Cli, [.. Digits, "--optimizer", "adam", "--reduce", reduce, "--out", out_], folder.Path);
            Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        }
        var a = Floats(MpiJob.TensorBytes(Path.Combine(ordered, "model.safetensors")));
        var b = Floats(MpiJob.TensorBytes(Path.Combine(fast, "model.safetensors")));
        Assert.Equal(a.Length, b.Length);
        double worst = a.Zip(b, (x, y) => Math.Abs(x - y) / Math.Max(1, Math.Abs(x))).Max();
        Assert.True(worst <= 1e-5, $"fast and ordered differ by {worst:E2}");

        static float[] Floats(byte[] bytes) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    [MpiFact(Launcher.OpenMpi)]
    public void Every_rank_holds_the_same_weights_after_every_epoch_and_trains_on_its_own_slice_of_each_epochs_order()
    {
        using var folder = new TempFolder();
        string different = Path.Combine(folder.Path, "different"), same = Path.Combine(folder.Path, "same");
        const int Ranks = 3;
        foreach (var (out_, flags) in (ReadOnlySpan<(string, string[])>)[(different, ["--different-seeds"]), (same, [])])
        {
            var (exit, output, error, _) = MpiJob.Run(Launcher.OpenMpi, Ranks, MpiJob.Probe, ["train", out_, .. flags], folder.Path);
            Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        }
        var ranks = Enumerable.Range(0, Ranks).Select(r => File.ReadAllLines(Path.Combine(different, $"rank{r}.txt"))).ToArray();
        var hashes = ranks.Select(lines => lines.Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)).ToArray()).ToArray();
        Assert.Equal(4, hashes[0].Length);                       // epochs −1, 0, 1, 2
        foreach (var other in hashes.Skip(1)) Assert.Equal(hashes[0], other);   // weights (and losses) equal on every rank, every epoch
        Assert.Equal(4, hashes[0].Select(l => l.Split(' ')[3]).Distinct().Count());   // and they change
        // Ranks started from different seeds agree after the broadcast: the run is rank 0's, as if all had its seed.
        Assert.Equal(hashes[0], File.ReadAllLines(Path.Combine(same, "rank0.txt")).Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)));

        string train = ranks[0].Single(l => l.StartsWith("train ", StringComparison.Ordinal))[6..];
        var trainRows = train.Split(',').Select(int.Parse).ToHashSet();
        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var slices = ranks.Select(lines => lines.Single(l => l.StartsWith($"rows {epoch} ", StringComparison.Ordinal)).Split(' ')[2].Split(',').Select(int.Parse).ToArray()).ToArray();
            var all = slices.SelectMany(s => s).ToArray();
            Assert.Equal(all.Length, all.Distinct().Count());    // disjoint (and no row twice)
            Assert.True(trainRows.SetEquals(all), $"epoch {epoch}: the ranks' rows are not the training rows");   // complete
            Assert.All(slices, s => Assert.InRange(s.Length, trainRows.Count / Ranks - 30, trainRows.Count / Ranks + 30));
            orders.Add(slices[0]);
        }
        Assert.NotEqual(orders[0], orders[1]);
        Assert.NotEqual(orders[1], orders[2]);
    }

    [MpiFact(Launcher.OpenMpi)]
    public async Task A_rank_killed_mid_epoch_ends_the_job_with_a_non_zero_exit_within_30_seconds_and_its_last_checkpoint_resumes()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        string marker = Guid.NewGuid().ToString("N");
        var start = MpiJob.StartInfo(Launcher.OpenMpi, 2, MpiJob.Cli,
            ["train", "--dataset", "digits", "--layers", "64", "--epochs", "500", "--batch-size", "8", "--checkpoint-every", "1", "--out", run], folder.Path, marker);
        using var job = Process.Start(start)!;
        var error = job.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (await job.StandardOutput.ReadLineAsync(timeout.Token) is { } line && !line.StartsWith("E: 1", StringComparison.Ordinal)) { }
        var rest = job.StandardOutput.ReadToEndAsync();
        int victim = MpiJob.RankProcess(marker, 1) ?? throw new InvalidOperationException("rank 1's process is not in /proc");
        var clock = Stopwatch.StartNew();
        Process.GetProcessById(victim).Kill();   // SIGKILL, mid-epoch
        bool ended = job.WaitForExit(TimeSpan.FromSeconds(30));
        if (!ended) job.Kill(entireProcessTree: true);
        Assert.True(ended, "the job did not end within 30 s of a rank's death");
        job.WaitForExit();
        Assert.NotEqual(0, job.ExitCode);
        _ = await rest;
        _ = await error;
        Assert.True(clock.Elapsed.TotalSeconds < 30);
        Assert.Null(MpiJob.RankProcess(marker, 0));   // no rank left behind

        // Nothing half-written; the last checkpoint loads and continues, here on one process.
        Assert.Empty(Directory.GetFiles(run, "*.tmp*"));
        int done = CompletedEpochs(run);
        Assert.True(done >= 2, $"the checkpoint holds {done} epochs");
        var resumed = CliRunner.Run(["train", "--resume", run, "--epochs", (done + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Equal(done + 2, MpiJob.History(run).Length - 1);   // header, epoch −1, then done + 1 epochs
    }

    [MpiFact(Launcher.OpenMpi)]
    public async Task A_rank_that_hangs_makes_the_others_end_the_job_naming_the_rank_and_the_collective()
    {
        using var folder = new TempFolder();
        string marker = Guid.NewGuid().ToString("N");
        var start = MpiJob.StartInfo(Launcher.OpenMpi, 2, MpiJob.Cli,
            ["train", "--dataset", "digits", "--layers", "64", "--epochs", "500", "--batch-size", "8", "--out", Path.Combine(folder.Path, "run")], folder.Path, marker,
            new Dictionary<string, string> { ["SCRATCHNET_MPI_TIMEOUT"] = "3" });
        using var job = Process.Start(start)!;
        var error = job.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (await job.StandardOutput.ReadLineAsync(timeout.Token) is { } line && !line.StartsWith("E: 0", StringComparison.Ordinal)) { }
        var rest = job.StandardOutput.ReadToEndAsync();
        int victim = MpiJob.RankProcess(marker, 1) ?? throw new InvalidOperationException("rank 1's process is not in /proc");
        var clock = Stopwatch.StartNew();
        ChildCliSignals.Stop(victim);   // SIGSTOP: alive, but it never answers
        bool ended = job.WaitForExit(TimeSpan.FromSeconds(30));
        if (!ended) job.Kill(entireProcessTree: true);
        Assert.True(ended, "the job did not end within 30 s of a rank hanging");
        job.WaitForExit();
        Assert.NotEqual(0, job.ExitCode);
        _ = await rest;
        string message = await error;
        Assert.Contains("error: rank 0 of 2: ", message);
        Assert.Contains("did not complete within 3 s", message);
        Assert.True(clock.Elapsed.TotalSeconds < 30);
    }

    [MpiFact(Launcher.OpenMpi)]
    public void A_rank_that_cannot_read_its_data_ends_the_job_within_30_seconds_with_one_line_naming_the_rank_and_the_cause()
    {
        // Each rank runs in its own folder, as on machines with their own disks; rank 1's copy of the file is damaged.
        using var folder = new TempFolder();
        string good = Path.Combine(folder.Path, "rank0"), damaged = Path.Combine(folder.Path, "rank1");
        var random = new Random(3);
        string[] rows = [.. Enumerable.Range(0, 200).Select(i => FormattableString.Invariant($"{random.NextDouble():F4},{random.NextDouble():F4},{random.NextDouble():F4},{i % 2}"))];
        Directory.CreateDirectory(good);
        Directory.CreateDirectory(damaged);
        File.WriteAllLines(Path.Combine(good, "data.csv"), rows);
        rows[120] = "0.5,zero,0.1,1";
        File.WriteAllLines(Path.Combine(damaged, "data.csv"), rows);
        var (exit, output, error, seconds) = MpiJob.Run(Launcher.OpenMpi, 2, MpiJob.Cli,
            ["train", "--dataset", "csv:data.csv", "--epochs", "50", "--batch-size", "8", "--out", "run"], folder.Path, rankFolders: [good, damaged], timeoutSeconds: 60);
        Assert.NotEqual(0, exit);
        Assert.True(seconds < 30, $"the job took {seconds:F0} s to end");
        var lines = error.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal([$"error: rank 1 of 2: {Path.Combine(damaged, "data.csv")}, line 121, column 1: 'zero' is not a finite number."], lines);
        Assert.DoesNotContain("E: 0", output);   // no rank trained
        if (Directory.Exists(Path.Combine(good, "run"))) Assert.Empty(Directory.GetFiles(Path.Combine(good, "run"), "*.tmp*"));
    }

    [MpiFact(Launcher.OpenMpi)]
    public async Task SIGTERM_to_mpirun_stops_every_rank_after_rank_0_saved_a_checkpoint_that_resumes()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        string marker = Guid.NewGuid().ToString("N");
        var start = MpiJob.StartInfo(Launcher.OpenMpi, 2, MpiJob.Cli,
            ["train", "--dataset", "digits", "--layers", "64", "--epochs", "500", "--batch-size", "8", "--checkpoint-every", "1", "--out", run], folder.Path, marker);
        using var job = Process.Start(start)!;
        var error = job.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        while (await job.StandardOutput.ReadLineAsync(timeout.Token) is { } line && !line.StartsWith("E: 1", StringComparison.Ordinal)) { }
        var rest = job.StandardOutput.ReadToEndAsync();
        ChildCliSignals.Terminate(job.Id);   // as kill, timeout or a batch scheduler would: mpirun passes it on to every rank
        bool ended = job.WaitForExit(TimeSpan.FromSeconds(30));
        if (!ended) job.Kill(entireProcessTree: true);
        Assert.True(ended, "the job did not end within 30 s of SIGTERM");
        job.WaitForExit();
        Assert.NotEqual(0, job.ExitCode);
        string output = await rest;
        _ = await error;
        Assert.Null(MpiJob.RankProcess(marker, 0));
        Assert.Null(MpiJob.RankProcess(marker, 1));
        // Rank 0 stopped at a batch boundary and wrote its checkpoint before anything ended it.
        Assert.Contains("# interrupted after ", output);
        Assert.Empty(Directory.GetFiles(run, "*.tmp*"));
        int done = CompletedEpochs(run);
        var resumed = CliRunner.Run(["train", "--resume", run, "--epochs", (done + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Equal(done + 2, MpiJob.History(run).Length - 1);
    }

    [MpiFact(Launcher.OpenMpi)]
    public void A_checkpoint_of_two_ranks_resumes_on_one_rank_and_on_four()
    {
        using var folder = new TempFolder();
        string run = Path.Combine(folder.Path, "run");
        var (exit, output, error, _) = MpiJob.Run(Launcher.OpenMpi, 2, MpiJob.Cli, [.. Digits, "--checkpoint-every", "1", "--out", run], folder.Path);
        Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
        var trained = MpiJob.History(run);
        foreach (int ranks in (int[])[1, 4])
        {
            string copy = Path.Combine(folder.Path, $"on{ranks}");
            Directory.CreateDirectory(copy);
            foreach (string file in Directory.GetFiles(run)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            string[] resume = ["train", "--resume", copy, "--epochs", "3"];
            if (ranks == 1)
            {
                var one = CliRunner.Run(resume);
                Assert.True(one.ExitCode == 0, one.Error);
            }
            else
            {
                (exit, output, error, _) = MpiJob.Run(Launcher.OpenMpi, ranks, MpiJob.Cli, resume, folder.Path);
                Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
                Assert.Contains($"# data-parallel on {ranks} ranks", output);
            }
            var history = MpiJob.History(copy);
            Assert.Equal(trained, history.Take(trained.Length));   // epochs −1, 0 and 1 as the two ranks trained them
            Assert.Equal(trained.Length + 1, history.Length);
            double accuracy = double.Parse(history[^1].Split(',')[4], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(accuracy > 0.8, $"validation accuracy {accuracy} after resuming on {ranks}");
        }
    }

    [MpiFact(Launcher.Mpich)]
    public void A_global_batch_that_does_not_divide_over_the_ranks_is_one_usage_error()
    {
        using var folder = new TempFolder();
        var (exit, output, error, _) = MpiJob.Run(Launcher.Mpich, 2, MpiJob.Cli, ["train", "--dataset", "digits", "--epochs", "1", "--batch-size", "33", "--out", "run"], folder.Path);
        Assert.Equal(2, exit);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["error: --batch-size 33 is the global batch and must divide over the 2 ranks; give a multiple of 2."], lines);
        Assert.False(Directory.Exists(Path.Combine(folder.Path, "run")));
    }

    [MpiFact(Launcher.Mpich)]
    public void Info_names_the_library_and_the_world_size_under_a_launcher()
    {
        using var folder = new TempFolder();
        var (exit, output, error, _) = MpiJob.Run(Launcher.Mpich, 2, MpiJob.Cli, ["info"], folder.Path);
        Assert.True(exit == 0, error);
        Assert.Contains("mpi: launched, world size 2 (rank 0), libmpich.so.12: MPICH Version: ", output);
        var alone = CliRunner.Run(["info"]);
        Assert.Contains("mpi: found libmpi", alone.Output);
        Assert.Contains("not launched by mpirun or srun (world size 1)", alone.Output);
    }

    private static int CompletedEpochs(string run)
    {
        using var state = System.Text.Json.JsonDocument.Parse(Network<float>.ReadMetadata(Path.Combine(run, "checkpoint.safetensors"))["checkpoint"]);
        return state.RootElement.GetProperty("next_epoch").GetInt32();
    }
}

/// <summary>SIGSTOP for a process: it stays alive but never runs (a hung rank).</summary>
internal static partial class ChildCliSignals
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public static void Stop(int pid) => Assert.Equal(0, Kill(pid, 19));

    public static void Terminate(int pid) => Assert.Equal(0, Kill(pid, 15));
}
