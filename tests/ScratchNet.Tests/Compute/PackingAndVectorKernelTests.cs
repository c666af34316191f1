using System.Numerics;
using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

[Trait("Category", "Kernels")]
public unsafe class PackingAndVectorKernelTests
{
    [Fact]
    public void TransposingPackMatchesItsReferenceOverAllEdges()
    {
        CheckPack<float>();
        CheckPack<double>();
    }

    private static void CheckPack<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(5);
        const int ld = 45;
        var source = KernelAssert.Random<T>(32, ld, rng).ToArray();   // rows up to the widest panel, 32
        foreach (int width in new[] { 4, 6, 8, 16, 32 })
            for (int rows = 0; rows <= width; rows++)
                for (int depth = 0; depth <= 40; depth++)
                {
                    var expected = new T[width * depth];
                    var actual = new T[width * depth];
                    actual.AsSpan().Fill(T.NaN);
                    fixed (T* s = source, e = expected, a = actual)
                    {
                        Transpose.PackReference(s, ld, rows, depth, width, e);
                        Transpose.Pack(s, ld, rows, depth, width, a);
                    }
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"{typeof(T).Name} width {width} rows {rows} depth {depth}");
                }
    }

    [Fact]
    public void CacheLineArraysHoldTheirLengthFromABoundary()
    {
        CheckCacheLines<float>();
        CheckCacheLines<double>();
    }

    private static void CheckCacheLines<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (long length in new long[] { 0, 1, 15, 16, 17, 1000, 4099 })
        {
            // Many arrays, so that some of them start off a boundary (the runtime aligns array data to 8 or 16 bytes).
            for (int i = 0; i < 8; i++)
            {
                var array = CacheLines.Allocate<T>(length);
                T* start = CacheLines.Start(array);
                Assert.Equal(0, (long)start % CacheLines.Bytes);
                fixed (T* first = array)
                {
                    long skipped = start - first;
                    Assert.InRange(skipped, 0, CacheLines.Bytes / sizeof(T) - 1);
                    Assert.True(skipped + length <= array.Length, $"{typeof(T).Name} length {length}: {array.Length} elements, {skipped} before the boundary");
                }
                Assert.True(CacheLines.Holds(array, length));
                Assert.False(CacheLines.Holds(array, array.Length));
            }
            Assert.False(CacheLines.Holds<T>(null, length));
        }
    }

    [Fact]
    public void DotMatchesTheScalarSumForEveryLengthUpTo256()
    {
        var rng = new Rng(9);
        var x = KernelAssert.Random<double>(1, 256, rng).ToArray();
        var y = KernelAssert.Random<double>(1, 256, rng).ToArray();
        var xf = x.Select(v => (float)v).ToArray();
        var yf = y.Select(v => (float)v).ToArray();
        for (int length = 0; length <= 256; length++)
        {
            double expected = 0;
            for (int i = 0; i < length; i++) expected += x[i] * y[i];
            double expectedFloat = 0;
            for (int i = 0; i < length; i++) expectedFloat += (double)xf[i] * yf[i];
            fixed (double* px = x, py = y)
                Assert.True(Math.Abs(Simd.Dot(px, py, length) - expected) <= 1e-13 * Math.Max(1, length), $"double length {length}");
            fixed (float* px = xf, py = yf)
                Assert.True(Math.Abs(Simd.Dot(px, py, length) - expectedFloat) <= 1e-5 * Math.Max(1, length), $"float length {length}");
        }
    }

    [Fact]
    public void FusedSgdUpdateMatchesTheFormulaForEveryLengthAcrossChunks()
    {
        var rng = new Rng(13);
        foreach (int length in Enumerable.Range(0, 70).Concat([255, 256, 257, 511, 513, 1000, 70_000]))
        {
            var w = KernelAssert.Random<float>(1, length, rng).ToArray();
            var g = KernelAssert.Random<float>(1, length, rng).ToArray();
            float lr = 0.01f, keep = 0.998f;
            var expected = w.Select((wi, i) => MathF.FusedMultiplyAdd(-lr, g[i], keep * wi)).ToArray();
            double expectedSquares = w.Sum(wi => (double)wi * wi);

            double squares = SgdKernels.Update<float>(w, g, lr, keep);

            Assert.True(expected.AsSpan().SequenceEqual(w), $"length {length}: weights");
            Assert.All(g, gi => Assert.Equal(0f, gi));
            Assert.True(Math.Abs(squares - expectedSquares) <= 1e-5 * Math.Max(1, expectedSquares), $"length {length}: Σw² {squares} vs {expectedSquares}");
        }
    }

    [Theory]
    [InlineData(1, 10, 300, true)]
    [InlineData(1, 800, 784, false)]   // the report's first layer: no input gradient
    [InlineData(1, 300, 800, true)]
    [InlineData(1, 7, 1, true)]
    [InlineData(3, 33, 257, true)]
    [InlineData(4, 65, 513, false)]
    public void FusedLinearBackwardMatchesItsReference(int batch, int outputs, int inputs, bool inputGradient)
    {
        var rng = new Rng(17);
        var w = KernelAssert.Random<double>(outputs, inputs, rng);
        var b = KernelAssert.Random<double>(1, outputs, rng);
        var x = KernelAssert.Random<double>(batch, inputs, rng);
        var dy = KernelAssert.Random<double>(batch, outputs, rng);
        var (w2, b2) = (w.Clone(), b.Clone());
        var dx = inputGradient ? new Matrix<double>(batch, inputs) : null;
        var dx2 = inputGradient ? new Matrix<double>(batch, inputs) : null;

        double expected = SgdKernels.LinearBackwardReference(w, b, x, dy, dx, 0.05, 0.999);
        double actual = SgdKernels.LinearBackward(w2, b2, x, dy, dx2, 0.05, 0.999);

        KernelAssert.Close<double>(w.Span, w2.Span, 1e-14, "weights");
        KernelAssert.Close<double>(b.Span, b2.Span, 1e-14, "bias");
        if (inputGradient) KernelAssert.Close<double>(dx!.Span, dx2!.Span, 1e-13, "input gradient");
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * expected, $"Σw² {actual} vs {expected}");
    }

    [Theory]
    [InlineData(10, 300)]
    [InlineData(800, 784)]
    [InlineData(7, 1)]
    [InlineData(33, 67)]
    public void ForwardFinishingTheDeferredStepMatchesItsReference(int outputs, int inputs)
    {
        var rng = new Rng(19);
        var w = KernelAssert.Random<double>(outputs, inputs, rng);
        var b = KernelAssert.Random<double>(1, outputs, rng);
        var previousInput = KernelAssert.Random<double>(1, inputs, rng);
        var previousGradient = KernelAssert.Random<double>(1, outputs, rng);
        var x = KernelAssert.Random<double>(1, inputs, rng);
        var (w2, y, y2) = (w.Clone(), new Matrix<double>(1, outputs), new Matrix<double>(1, outputs));

        double expected = SgdKernels.LinearForwardFinishingStepReference(w, b, previousInput, previousGradient, 0.05, 0.999, x, y);
        double actual = SgdKernels.LinearForwardFinishingStep(w2, b, previousInput, previousGradient, 0.05, 0.999, x, y2);

        KernelAssert.Close<double>(w.Span, w2.Span, 1e-14, "weights");
        KernelAssert.Close<double>(y.Span, y2.Span, 1e-13, "output");
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * expected, $"Σw² {actual} vs {expected}");
    }
}
