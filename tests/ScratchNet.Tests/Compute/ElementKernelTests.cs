using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Layers;

namespace ScratchNet.Tests.Compute;

/// <summary>
/// The vectorised GELU (forward, and backward with its recomputed tanh) against its scalar reference for every length
/// up to four vectors past the width (every tail), in both element types, within a few machine epsilons of the values'
/// scale; and the GELU, batch-norm and max-pooling layers, which split their work over the thread team, identical for
/// one and two threads.
/// </summary>
[Trait("Category", "Kernels")]
[Collection(GlobalStateCollection.Name)]
public class ElementKernelTests
{
    [Theory]
    [InlineData(GeluApproximation.None)]
    [InlineData(GeluApproximation.Tanh)]
    public void FloatGeluMatchesTheScalarReferenceOverEveryTail(GeluApproximation approximate) => OnEveryVectorPath(() => GeluMatchesScalar<float>(approximate, 2e-6));

    [Theory]
    [InlineData(GeluApproximation.None)]
    [InlineData(GeluApproximation.Tanh)]
    public void DoubleGeluMatchesTheScalarReferenceOverEveryTail(GeluApproximation approximate) => OnEveryVectorPath(() => GeluMatchesScalar<double>(approximate, 1e-14));

    // The machine's vectors, and where it runs 512-bit vectors the narrower Vector<T> path too.
    private static void OnEveryVectorPath(Action check)
    {
        bool wide = GeluKernels.Wide;
        try
        {
            foreach (bool path in wide ? new[] { true, false } : [false])
            {
                GeluKernels.Wide = path;
                check();
            }
        }
        finally { GeluKernels.Wide = wide; }
    }

    private static void GeluMatchesScalar<T>(GeluApproximation approximate, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(17);
        var job = new GeluJob<T> { Approximate = approximate };
        for (int length = 0; length <= 5 * GeluKernels.Width<T>() + 1; length++)   // every tail of the vectors the kernels run on
        {
            // Saturated tails, the steep middle and values near zero, where 1 − e loses digits; now and then far out.
            var x = Enumerable.Range(0, length).Select(i => T.CreateChecked(
                i % 7 == 0 ? random.NextDouble() * 1e-4 : i % 11 == 5 ? (random.NextDouble() - 0.5) * 80 : (random.NextDouble() - 0.5) * 12)).ToArray();
            var dy = Enumerable.Range(0, length).Select(_ => T.CreateChecked(random.NextDouble() * 2 - 1)).ToArray();
            T[] y = new T[length], dx = new T[length];
            T[] yRef = new T[length], dxRef = new T[length];
            GeluKernels.Forward<T>(x, y, job);
            GeluKernels.ForwardScalar<T>(approximate, x, yRef);
            GeluKernels.Backward<T>(x, dy, dx, job);
            GeluKernels.BackwardScalar<T>(approximate, x, dy, dxRef);
            for (int i = 0; i < length; i++)
            {
                double scale = 1 + Math.Abs(double.CreateChecked(x[i]));
                Near(yRef[i], y[i], tolerance * scale, $"GELU {approximate}({x[i]}) at {i} of {length}, {GeluKernels.Width<T>()} lanes");
                Near(dxRef[i], dx[i], tolerance * scale, $"GELU {approximate}' at {i} of {length}, {GeluKernels.Width<T>()} lanes");
            }
        }
    }

    private static void Near<T>(T expected, T actual, double tolerance, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double difference = Math.Abs(double.CreateChecked(expected) - double.CreateChecked(actual));
        Assert.True(difference <= tolerance, $"{what}: scalar {expected}, vector {actual}, |difference| {difference:E2} > {tolerance:E2}");
    }

    // Values drawn from a handful, so that windows tie often; signed zeros, infinities and NaNs among them. The rule
    // (PyTorch's): in row-major window order, a later value wins only if larger, or if it is the first NaN.
    private static readonly float[] TiePool = [0f, -0f, 1f, 1f, -1f, 2f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0.5f];

    [Fact]
    public void TheBranchFreeTwoByTwoMaxPoolPicksTheWinnerOfTheGeneralRule() => TwoByTwoFollowsTheRule(3, 7, 6, batch: 5, seed: 11, TiePool);

    // Every output width 1..20 (the AVX2 path's groups of eight and each tail, odd input widths whose last group reads into
    // the next row), heights 2..5, with ties, signed zeros and NaNs (a group with a NaN takes the scalar loop), and
    // without NaNs (every group stays in vectors).
    [Fact]
    public void TheVectorTwoByTwoMaxPoolPicksTheWinnerOfTheGeneralRuleAtEveryWidth()
    {
        float[] noNaN = [.. TiePool.Where(v => !float.IsNaN(v))];
        for (int width = 2; width <= 41; width++)
            foreach (int height in new[] { 2, 3, 5 })
            {
                TwoByTwoFollowsTheRule(2, height, width, batch: 3, seed: width * 7 + height, TiePool);
                TwoByTwoFollowsTheRule(2, height, width, batch: 3, seed: width * 7 + height, noNaN);
            }
    }

    private static void TwoByTwoFollowsTheRule(int channels, int height, int width, int batch, int seed, float[] pool)
    {
        var random = new Random(seed);
        var layer = new MaxPool2d<float>(new Shape(channels, height, width), 2);
        var x = new Matrix<float>(batch, layer.InputSize);
        foreach (ref float v in x.Span) v = pool[random.Next(pool.Length)];
        var y = layer.Forward(x).ToArray();
        var dy = new Matrix<float>(batch, layer.OutputSize);
        for (int i = 0; i < dy.Length; i++) dy.Span[i] = i + 1;   // each output's gradient names it
        var dx = layer.Backward(dy).ToArray();

        int o = 0, outHeight = height / 2, outWidth = width / 2;
        var expectedDx = new float[dx.Length];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int oh = 0; oh < outHeight; oh++)
                    for (int ow = 0; ow < outWidth; ow++, o++)
                    {
                        int at = -1;
                        foreach (var (dh, dw) in new[] { (0, 0), (0, 1), (1, 0), (1, 1) })
                        {
                            int i = n * layer.InputSize + (c * height + 2 * oh + dh) * width + 2 * ow + dw;
                            float v = x.Span[i];
                            if (at < 0 || v > x.Span[at] || float.IsNaN(v) && !float.IsNaN(x.Span[at])) at = i;
                        }
                        Assert.True(BitConverter.SingleToInt32Bits(x.Span[at]) == BitConverter.SingleToInt32Bits(y[o]), $"{height}x{width} output {o}: {y[o]}, expected {x.Span[at]}");
                        expectedDx[at] += o + 1;
                    }
        Assert.Equal(expectedDx, dx);
    }

    [Theory]
    [InlineData(GeluApproximation.None)]
    [InlineData(GeluApproximation.Tanh)]
    public void GeluBatchNormAndMaxPoolLayersGiveTheSameResultsForOneAndTwoThreads(GeluApproximation approximate)
    {
        var gelu = new Gelu<float>(new Shape(8, 31, 31), approximate);
        var norm = new BatchNorm2d<float>(new Shape(8, 31, 31)) { Training = true };
        var pool = new MaxPool2d<float>(new Shape(8, 31, 31), 2);
        var random = new Random(3);
        var x = new Matrix<float>(9, gelu.InputSize);
        foreach (ref float v in x.Span) v = (float)(random.NextDouble() * 6 - 3);
        foreach (ref float v in norm.Weight!.Value.Span) v = (float)(random.NextDouble() + 0.5);
        var g = new Matrix<float>(9, pool.OutputSize);
        foreach (ref float v in g.Span) v = (float)(random.NextDouble() * 2 - 1);
        (float[] Y, float[] Dx, float[] Statistics) Run(int threads)
        {
            using var scope = new ThreadCountScope(threads);
            norm.Weight.Gradient.Span.Clear();
            norm.Bias!.Gradient.Span.Clear();
            var y = pool.Forward(norm.Forward(gelu.Forward(x)));
            var dx = gelu.Backward(norm.Backward(pool.Backward(g)));
            return (y.ToArray(), dx.ToArray(), [.. norm.Weight.Gradient.Span, .. norm.Bias.Gradient.Span, .. norm.RunningMean.Span, .. norm.RunningVariance.Span]);
        }
        var one = Run(1);
        norm.RunningMean.Span.Clear();
        norm.RunningVariance.Span.Fill(1);
        var two = Run(2);
        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Dx, two.Dx);
        Assert.Equal(one.Statistics, two.Statistics);
    }
}
