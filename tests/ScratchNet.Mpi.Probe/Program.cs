// Runs inside every rank of an mpirun job, for tests/ScratchNet.Tests/Mpi:
//   collectives         broadcast, all-gather and all-reduce (float, double, int, long; blocking and started) on
//                       integer-valued data, every result compared exactly; prints one "ok" line per rank, exit 1 on any fault.
//   train OUT [--different-seeds] [--reduce fast]
//                       trains a digits MLP with dropout through the library's Trainer on the process group and writes
//                       OUT/rank{r}.txt: after each epoch a hash of the weights and the training rows this rank gathered.
using System.Globalization;
using ScratchNet;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Mpi;
using ScratchNet.Training;

using var group = MpiProcessGroup.Initialize(MpiLaunch.Current);
return args.FirstOrDefault() switch
{
    "collectives" => Collectives(group),
    "train" when args.Length >= 2 => Train(group, args[1], args.Contains("--different-seeds"), args.Contains("--fast") ? GradientReduction.Fast : GradientReduction.Ordered),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ScratchNet.Mpi.Probe collectives | train OUT [--different-seeds] [--fast]");
    return 2;
}

static int Collectives(MpiProcessGroup group)
{
    int rank = group.Rank, size = group.Size;
    var faults = new List<string>();
    void Expect(bool ok, string what)
    {
        if (!ok) faults.Add(what);
    }

    foreach (int n in (int[])[1, 7, 1000, 100_003])
    {
        // Broadcast: rank 0's values everywhere.
        var broadcast = new float[n];
        for (int i = 0; i < n; i++) broadcast[i] = rank == 0 ? i : -1;
        group.Broadcast<float>(broadcast);
        Expect(Enumerable.Range(0, n).All(i => broadcast[i] == i), $"broadcast of {n} floats");

        // All-gather: every rank's block in rank order.
        var mine = new int[n];
        for (int i = 0; i < n; i++) mine[i] = rank * 1_000_000 + i;
        var all = new int[n * size];
        group.AllGather<int>(mine, all);
        Expect(Enumerable.Range(0, n * size).All(k => all[k] == (k / n) * 1_000_000 + k % n), $"all-gather of {n} ints");

        // All-reduce: Σ over ranks of (rank + 1)·i = i·size(size + 1)/2, exact in every type for these sizes.
        long factor = size * (size + 1L) / 2;
        var floats = new float[n];
        var doubles = new double[n];
        var ints = new int[n];
        var longs = new long[n];
        for (int i = 0; i < n; i++)
        {
            floats[i] = (rank + 1) * (float)i;
            doubles[i] = (rank + 1) * (double)i - 0.5 * (rank + 1);
            ints[i] = (rank + 1) * i;
            longs[i] = (rank + 1) * (i + 4_000_000_000L);
        }
        group.AllReduceSum<float>(floats);
        group.AllReduceSum<double>(doubles);
        group.AllReduceSum<int>(ints);
        group.AllReduceSum<long>(longs);
        Expect(Enumerable.Range(0, n).All(i => floats[i] == factor * (float)i), $"all-reduce of {n} floats");
        Expect(Enumerable.Range(0, n).All(i => doubles[i] == factor * (double)i - 0.5 * factor), $"all-reduce of {n} doubles");
        Expect(Enumerable.Range(0, n).All(i => ints[i] == factor * i), $"all-reduce of {n} ints");
        Expect(Enumerable.Range(0, n).All(i => longs[i] == factor * (i + 4_000_000_000L)), $"all-reduce of {n} longs");

        // Two started reductions in flight at once, completed in reverse order (the buckets of a backward pass).
        var first = new float[n];
        var second = new float[n];
        for (int i = 0; i < n; i++) { first[i] = rank + i; second[i] = rank - i; }
        var a = group.StartAllReduceSum<float>(first);
        var b = group.StartAllReduceSum<float>(second);
        b.Wait();
        a.Wait();
        long ranks = size * (size - 1L) / 2;
        Expect(Enumerable.Range(0, n).All(i => first[i] == ranks + (long)size * i && second[i] == ranks - (long)size * i), $"started all-reduces of {n} floats");
    }
    group.Barrier();
    foreach (string fault in faults) Console.WriteLine($"FAIL rank {rank} of {size}: {fault}");
    if (faults.Count == 0) Console.WriteLine($"ok rank {rank} of {size}: {group.Library} ({group.Abi}, {group.Version})");
    return faults.Count == 0 ? 0 : 1;
}

static int Train(MpiProcessGroup group, string folder, bool differentSeeds, GradientReduction reduce)
{
    ulong seed = differentSeeds ? 100 + (ulong)group.Rank : 100;
    var network = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.1, seed: seed);
    network.AddLinear(32);
    network.AddRelu();
    network.AddDropout(0.2);
    network.AddLinear(Digits.Classes);
    network.AddSoftmax();
    var samples = new RecordingSource(Digits.Load<float>());
    var trainer = new Trainer<float>(network, samples, validationFraction: 0.2, seed: seed);
    var lines = new List<string>();
    var epochRows = new List<int>();
    trainer.EpochCompleted += stats =>
    {
        lines.Add(Invariant($"epoch {stats.Epoch} hash {Hash(network):x16} train_loss {stats.TrainLoss:R}"));
        if (stats.Epoch >= 0) lines.Add($"rows {stats.Epoch} {string.Join(',', epochRows)}");
        epochRows.Clear();
        samples.Gathered.Clear();   // the evaluation's rows
    };
    var progress = new Batches(() =>
    {
        epochRows.AddRange(samples.Gathered);
        samples.Gathered.Clear();
    });
    trainer.Train(new TrainOptions { Epochs = 3, BatchSize = 48, Processes = group, Reduce = reduce, Progress = progress });
    lines.Insert(0, $"train {string.Join(',', trainer.TrainRows)}");
    Directory.CreateDirectory(folder);
    File.WriteAllLines(Path.Combine(folder, $"rank{group.Rank}.txt"), lines);
    return 0;
}

static ulong Hash(Network<float> network)
{
    ulong hash = 14695981039346656037;   // FNV-1a over the bytes of every parameter value
    foreach (var parameter in network.Parameters)
        foreach (byte b in System.Runtime.InteropServices.MemoryMarshal.AsBytes(parameter.Value.Span))
            hash = (hash ^ b) * 1099511628211;
    return hash;
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

// Remembers every row it gathers, for the test of the sharded order.
sealed class RecordingSource(ISampleSource<float> inner) : ISampleSource<float>
{
    public List<int> Gathered { get; } = [];
    public int Count => inner.Count;
    public int FeatureCount => inner.FeatureCount;
    public int TargetCount => inner.TargetCount;
    public int ClassOf(int row) => inner.ClassOf(row);

    public void Gather(ReadOnlySpan<int> rows, Matrix<float> features, Matrix<float> targets)
    {
        foreach (int row in rows) Gathered.Add(row);
        inner.Gather(rows, features, targets);
    }
}

sealed class Batches(Action after) : IProgress<BatchProgress>
{
    public void Report(BatchProgress value) => after();
}
