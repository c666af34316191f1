using System.Runtime.InteropServices;
using ScratchNet.Losses;

namespace ScratchNet.Tests.Networks;

/// <summary><see cref="Network{T}.Predict"/>: the forward formula, width checks, and the chunked path for large inputs.</summary>
public class NetworkPredictTests
{
    [Fact]
    public void WrongInputWidthThrowsNamingTheShapes()
    {
        var net = SmallNetwork<float>();
        var e = Assert.Throws<ShapeMismatchException>(() => net.Predict(new Matrix<float>(5, 3)));
        Assert.Contains("2 columns", e.Message);
        Assert.Contains("(5, 3)", e.Message);
    }

    [Fact]
    public void PredictComputesTheForwardFormula()
    {
        // y = relu(x·W1ᵀ + b1)·W2ᵀ + b2, recomputed here in plain loops; tolerance 1e-12 relative to Σ|terms| (double).
        var net = SmallNetwork<double>();
        var x = RandomInputs<double>(37, 2, seed: 4);
        var y = net.Predict(x);
        var (w1, b1) = (net.Parameters[0].Value, net.Parameters[1].Value);
        var (w2, b2) = (net.Parameters[2].Value, net.Parameters[3].Value);
        Assert.Equal((37, 3), y.Shape);
        for (int r = 0; r < x.Rows; r++)
        {
            var hidden = new double[w1.Rows];
            for (int h = 0; h < w1.Rows; h++)
            {
                double sum = b1[0, h];
                for (int i = 0; i < x.Cols; i++) sum += x[r, i] * w1[h, i];
                hidden[h] = Math.Max(0, sum);
            }
            for (int o = 0; o < w2.Rows; o++)
            {
                double sum = b2[0, o], magnitude = Math.Abs(b2[0, o]);
                for (int h = 0; h < hidden.Length; h++)
                {
                    sum += hidden[h] * w2[o, h];
                    magnitude += Math.Abs(hidden[h] * w2[o, h]);
                }
                Assert.Equal(sum, y[r, o], 1e-12 * (1 + magnitude));
            }
        }
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(1025)]   // a last chunk of one row
    [InlineData(2500)]
    public void LargeInputsAreChunkedWithoutChangingAnyRow(int rows)
    {
        // Predict runs 1,024-row chunks. Each chunk must equal that chunk predicted as one batch, bit for bit.
        var net = SmallNetwork<float>();
        var x = RandomInputs<float>(rows, 2, seed: 5);
        var all = net.Predict(x);
        Assert.Equal((rows, 3), all.Shape);
        for (int start = 0; start < rows; start += 1024)
        {
            int[] chunkRows = [.. Enumerable.Range(start, Math.Min(1024, rows - start))];
            var chunk = net.Predict(x.GatherRows(chunkRows));
            Assert.True(MemoryMarshal.AsBytes(chunk.Span).SequenceEqual(MemoryMarshal.AsBytes(all.Span.Slice(start * 3, chunk.Length))),
                $"Rows {start}..{start + chunkRows.Length - 1} of {rows} differ from the same rows predicted as one batch.");
        }
        // And every row equals that row predicted alone, to rounding: a batch of ≤ 4 rows takes the GEMV path, whose
        // dot products round differently from the blocked GEMM. Tolerance: 1e-5·(1 + |y|), about 100 float ulps.
        for (int r = 0; r < rows; r++)
        {
            var one = net.Predict(x.GatherRows([r]));
            for (int j = 0; j < 3; j++)
                Assert.True(Math.Abs(one[0, j] - all[r, j]) <= 1e-5f * (1 + Math.Abs(one[0, j])),
                    $"Row {r} of {rows}, output {j}: batched {all[r, j]}, alone {one[0, j]}.");
        }
    }

    [Fact]
    public void ResultIsANewTensorNotAWorkspace()
    {
        var net = SmallNetwork<float>();
        var x1 = RandomInputs<float>(4, 2, seed: 6);
        var first = net.Predict(x1);
        float[] before = first.ToArray();
        var inputBefore = x1.ToArray();
        net.Predict(RandomInputs<float>(4, 2, seed: 7));
        Assert.Equal(before, first.ToArray());
        Assert.Equal(inputBefore, x1.ToArray());
    }

    [Fact]
    public void ZeroRowsGiveAnEmptyResult() =>
        Assert.Equal((0, 3), SmallNetwork<float>().Predict(new Matrix<float>(0, 2)).Shape);

    [Fact]
    public void CrossEntropyNetworkPredictsProbabilities()
    {
        var net = new Network<float>(2, 3, Loss.CrossEntropy, seed: 2);
        net.AddLinear(3, w: 2, b: 1);
        net.AddSoftmax();
        var p = net.Predict(RandomInputs<float>(50, 2, seed: 8));
        for (int r = 0; r < p.Rows; r++)
        {
            Assert.All(p.Row(r).ToArray(), v => Assert.InRange(v, 0f, 1f));
            Assert.Equal(1.0, p.Row(r).ToArray().Sum(v => (double)v), 1e-6);
        }
    }

    // 2 → 16 → relu → 3, L2, non-zero biases.
    private static Network<T> SmallNetwork<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new Network<T>(2, 3, Loss.L2, seed: 1);
        net.AddLinear(16, w: 0.7, b: 0.3);
        net.AddRelu();
        net.AddLinear(3, w: 0.5, b: 0.2);
        return net;
    }

    private static Matrix<T> RandomInputs<T>(int rows, int cols, ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Rng(seed);
        var x = new Matrix<T>(rows, cols);
        foreach (ref T v in x.Span) v = T.CreateChecked(rng.NextNormal());
        return x;
    }
}
