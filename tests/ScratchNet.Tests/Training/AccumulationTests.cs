using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Tests.Cli;
using ScratchNet.Tests.Compute;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary>
/// Gradient accumulation (<see cref="TrainOptions.Accumulate"/>) and data parallelism over a process group
/// (<see cref="TrainOptions.Processes"/>), here on a group of threads; tests/…/Mpi runs the same over MPI.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class AccumulationTests
{
    private static Network<double> Network(string optimizer, bool dropout, bool batchNorm = false, ulong seed = 7)
    {
        var net = new Network<double>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.05, seed: seed);
        net.AddLinear(24, regularization: true);
        if (batchNorm) net.AddBatchNorm();
        net.AddRelu();
        if (dropout) net.AddDropout(0.25);
        net.AddLinear(Digits.Classes, regularization: true);
        net.AddSoftmax();
        if (optimizer == "adam") net.Optimizer = new Adam<double>(0.01);
        return net;
    }

    private static double[] Weights(Network<double> net) => [.. net.Parameters.SelectMany(p => p.Value.ToArray())];

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void Accumulated_micro_batches_step_as_the_whole_batch_within_rounding(string optimizer)
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<double>();
        var whole = Network(optimizer, dropout: false);
        var parts = Network(optimizer, dropout: false);
        var a = new Trainer<double>(whole, data, seed: 3).Train(new TrainOptions { Epochs = 2, BatchSize = 48 });
        var b = new Trainer<double>(parts, data, seed: 3).Train(new TrainOptions { Epochs = 2, BatchSize = 48, Accumulate = 4 });
        var (x, y) = (Weights(whole), Weights(parts));
        double worst = x.Zip(y, (u, v) => Math.Abs(u - v)).Max();
        Assert.True(worst < 1e-10, $"weights differ by {worst:E2}");
        Assert.Equal(a.Final.ValidationLoss, b.Final.ValidationLoss, 1e-10);
        Assert.NotEqual(Weights(Network(optimizer, dropout: false)), y);   // it trained
    }

    [Theory]
    [InlineData(2, "sgd", false, false)]
    [InlineData(3, "adam", true, false)]
    [InlineData(4, "sgd", true, false)]
    [InlineData(3, "sgd", false, true)]
    public void Ranks_of_a_process_group_give_bit_for_bit_the_run_of_one_process_accumulating_as_many_parts(int ranks, string optimizer, bool dropout, bool batchNorm)
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<double>();
        var single = Network(optimizer, dropout, batchNorm);
        var expected = new Trainer<double>(single, data, seed: 3).Train(new TrainOptions { Epochs = 2, BatchSize = 48, Accumulate = ranks });
        // Every rank starts from other weights and another split: the broadcast makes the run rank 0's.
        var results = ThreadProcessGroup.Run(ranks, group =>
        {
            var net = Network(optimizer, dropout, batchNorm, seed: 7 + (ulong)group.Rank);
            var history = new Trainer<double>(net, data, seed: 3 + (ulong)group.Rank).Train(new TrainOptions { Epochs = 2, BatchSize = 48, Processes = group });
            return (Weights: Weights(net), History: history);
        });
        foreach (var (weights, history) in results)
        {
            Assert.Equal(Weights(single), weights);
            // Batch norm keeps per-rank running estimates (rank 0's are shared before each evaluation), so its
            // statistics are those of rank 0's slices, not of the accumulated parts; the weights are the same.
            if (batchNorm) continue;
            Assert.Equal(expected.Select(e => (e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy)),
                         history.Select(e => (e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy)));
        }
    }

    [Fact]
    public void The_fast_reduction_sums_as_the_group_does()
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<double>();
        var ordered = ThreadProcessGroup.Run(2, group => Weights(Trained(group, GradientReduction.Ordered)));
        var fast = ThreadProcessGroup.Run(2, group => Weights(Trained(group, GradientReduction.Fast)));
        Assert.Equal(ordered[0], fast[0]);   // two ranks: a + b either way
        Assert.Equal(fast[0], fast[1]);

        Network<double> Trained(IProcessGroup group, GradientReduction reduce)
        {
            var net = Network("adam", dropout: true);
            new Trainer<double>(net, data, seed: 3).Train(new TrainOptions { Epochs = 1, BatchSize = 32, Processes = group, Reduce = reduce });
            return net;
        }
    }

    [Fact]
    public void The_fast_reduction_sends_the_gradients_in_buckets_from_the_last_layer_back()
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<double>();
        int length = 0;
        ThreadProcessGroup.Run(2, group =>
        {
            // Gradients of 312 KB, 2.9 MB and 48 KB: the last two layers fill one 1 MB bucket, the first is sent at the end.
            var net = new Network<double>(Digits.Features, Digits.Classes, Loss.CrossEntropy, learningRate: 0.01, seed: 1);
            net.AddLinear(600);
            net.AddRelu();
            net.AddLinear(600);
            net.AddRelu();
            net.AddLinear(Digits.Classes);
            net.AddSoftmax();
            length = net.Gradients.Length;
            var trainer = new Trainer<double>(net, data, seed: 3);
            trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 720, Processes = group, Reduce = GradientReduction.Fast });   // 2 steps of 720
            return 0;
        }, out var used);
        int last = 600 * 10 + 10, middle = 600 * 600 + 600, first = 64 * 600 + 600;
        Assert.Equal(length, last + middle + first);
        Assert.Equal([last + middle, first, last + middle, first], used.Started);
    }

    [Theory]
    [InlineData(2, 2, "adam", GradientReduction.Ordered)]
    [InlineData(3, 2, "sgd", GradientReduction.Ordered)]
    [InlineData(2, 3, "adam", GradientReduction.Fast)]
    public void Ranks_that_accumulate_give_the_run_of_one_process_accumulating_ranks_times_as_many_parts(int ranks, int accumulate, string optimizer, GradientReduction reduce)
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<double>();
        var single = Network(optimizer, dropout: true);
        var expected = new Trainer<double>(single, data, seed: 3).Train(new TrainOptions { Epochs = 2, BatchSize = 48, Accumulate = ranks * accumulate });
        var results = ThreadProcessGroup.Run(ranks, group =>
        {
            var net = Network(optimizer, dropout: true, seed: 7 + (ulong)group.Rank);
            var history = new Trainer<double>(net, data, seed: 3).Train(new TrainOptions { Epochs = 2, BatchSize = 48, Processes = group, Accumulate = accumulate, Reduce = reduce });
            return (Weights: Weights(net), History: history);
        });
        foreach (var (weights, history) in results)
        {
            if (reduce == GradientReduction.Ordered)
            {
                Assert.Equal(Weights(single), weights);
                Assert.Equal(expected.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)), history.Select(e => (e.TrainLoss, e.ValidationLoss, e.ValidationAccuracy)));
                continue;
            }
            // Fast: each rank sums its micro-batches, then MPI (here: the group) sums the ranks; the same within rounding.
            double worst = Weights(single).Zip(weights, (u, v) => Math.Abs(u - v)).Max();
            Assert.True(worst < 1e-10, $"weights differ by {worst:E2}");
            Assert.Equal(results[0].Weights, weights);
        }
    }

    [Fact]
    public void The_ordered_reduction_gathers_the_gradients_in_buckets_from_the_last_layer_back_for_every_micro_batch()
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<double>();
        ThreadProcessGroup.Run(2, group =>
        {
            // As in the fast reduction's test: the last two layers fill one 1 MB bucket, the first is sent at the end.
            var net = new Network<double>(Digits.Features, Digits.Classes, Loss.CrossEntropy, learningRate: 0.01, seed: 1);
            net.AddLinear(600);
            net.AddRelu();
            net.AddLinear(600);
            net.AddRelu();
            net.AddLinear(Digits.Classes);
            net.AddSoftmax();
            new Trainer<double>(net, data, seed: 3).Train(new TrainOptions { Epochs = 1, BatchSize = 720, Processes = group, Accumulate = 2 });   // 2 steps of 2 micro-batches
            return 0;
        }, out var used);
        int last = 600 * 10 + 10, middle = 600 * 600 + 600, first = 64 * 600 + 600;
        Assert.Empty(used.Started);
        Assert.Equal([.. Enumerable.Repeat<int[]>([last + middle, first], 4).SelectMany(b => b)], used.StartedGathers);
    }

    [Fact]
    public void Skipping_dropout_rows_draws_the_masks_a_forward_pass_over_them_would()
    {
        var drawn = new Dropout<double>(new Shape(7), 0.3, seed: 11) { Training = true };
        var skipped = new Dropout<double>(new Shape(7), 0.3, seed: 11) { Training = true };
        drawn.Forward(new Matrix<double>(5, 7));
        skipped.SkipTrainingRows(5);
        var x = new Matrix<double>(3, 7);
        drawn.Forward(x);
        skipped.Forward(x);
        Assert.Equal(drawn.Mask.ToArray(), skipped.Mask.ToArray());
        var rng = new Rng(4);
        var reference = new Rng(4);
        rng.Skip(1000);
        for (int i = 0; i < 1000; i++) reference.NextUInt64();
        Assert.Equal(reference.NextUInt64(), rng.NextUInt64());
    }

    [Fact]
    public void A_warm_accumulated_step_allocates_nothing()
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<float>();
        long Allocated(int batchSize)
        {
            var trainer = new Trainer<float>(TrainOptionsTests.DigitsNetwork(learningRate: 0.01, seed: 3), data.Features, data.Targets, seed: 3);
            var options = new TrainOptions { Epochs = 1, BatchSize = batchSize, Accumulate = 2 };
            trainer.Train(options);
            long least = long.MaxValue;
            for (int run = 0; run < 3; run++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                trainer.Train(options);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            return least;
        }
        long fewer = Allocated(4), more = Allocated(2);   // 360 steps against 719
        Assert.True(more - fewer < 359 * 8, $"{more - fewer} more bytes for 359 more steps");
    }

    [Fact]
    public void Parts_that_do_not_divide_the_batch_are_refused()
    {
        var data = Digits.Load<float>();
        var trainer = new Trainer<float>(TrainOptionsTests.DigitsNetwork(learningRate: 0.01, seed: 3), data.Features, data.Targets, seed: 3);
        var e = Assert.Throws<ArgumentException>(() => trainer.Train(new TrainOptions { Epochs = 1, BatchSize = 10, Accumulate = 3 }));
        Assert.Contains("does not divide into 3", e.Message);
        var cli = CliRunner.Run(["train", "--epochs", "1", "--batch-size", "48", "--accumulate", "5", "--out", Path.Combine(Path.GetTempPath(), $"never-{Guid.NewGuid():N}")]);
        Assert.Equal(2, cli.ExitCode);
        Assert.Equal("error: --accumulate must divide the batch size 48 (each micro-batch is batch_size / accumulate rows).", cli.Error.Trim());
    }
}
