using ScratchNet.Data;
using ScratchNet.Tests.Compute;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary>The trainer's per-batch work (NaN guard, cancellation, progress hook) allocates nothing: the fused SGD step stays allocation-free inside <see cref="Trainer{T}.Train(TrainOptions, CancellationToken)"/>.</summary>
[Collection(GlobalStateCollection.Name)]
public class TrainerAllocationTests
{
    [Fact]
    public void AnEpochOfOneRowBatchesAllocatesNoMoreThanOneOfTwoRowBatches()
    {
        using var scope = new ThreadCountScope(1);
        var data = Digits.Load<float>();
        long Allocated(int batchSize)
        {
            var trainer = new Trainer<float>(TrainOptionsTests.DigitsNetwork(learningRate: 0.01, seed: 3), data.Features, data.Targets, seed: 3);
            using var cancel = new CancellationTokenSource();
            trainer.Train(new TrainOptions { Epochs = 1, BatchSize = batchSize }, cancel.Token);   // warm: JIT, buffers
            // The batch loop runs on this thread (one kernel thread: inline); counting this thread's allocations
            // leaves out the runtime's background work. The least of three runs drops one-off costs (e.g. a re-JIT).
            long least = long.MaxValue;
            for (int run = 0; run < 3; run++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                trainer.Train(new TrainOptions { Epochs = 1, BatchSize = batchSize }, cancel.Token);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            return least;
        }
        long twoRows = Allocated(2), oneRow = Allocated(1);   // 719 steps against 1,438
        // Per-epoch allocations (statistics, history, batch buffers) are the same in both; 719 extra steps may not
        // add more than a few bytes each (a 24-byte object per batch would add 17 kB).
        Assert.True(oneRow - twoRows < 719 * 8, $"{oneRow - twoRows} more bytes for 719 more batches");
    }
}
