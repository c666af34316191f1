using System.Numerics;
using System.Runtime.InteropServices;
using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

/// <summary>
/// The internal SIMD <c>Gemm.Axpy</c> (y += a·x) against the scalar formula at every length 0..256, so
/// every split into full vectors and a scalar tail is met. Neither side fuses the multiply-add, so the
/// results must agree bit for bit (tolerance 0); that is what makes GEMM independent of how it is split.
/// </summary>
[Trait("Category", "Kernels")]
public class GemmAxpyTests
{
    [Fact]
    public void FloatEqualsScalarFormulaBitForBitAtEveryLength() => AssertEveryLength<float>();

    [Fact]
    public void DoubleEqualsScalarFormulaBitForBitAtEveryLength() => AssertEveryLength<double>();

    [Fact]
    public void ZeroLengthTouchesNothing()
    {
        float[] y = [1f, 2f];
        Gemm.Axpy(3f, ReadOnlySpan<float>.Empty, y.AsSpan(0, 0));
        Assert.Equal([1f, 2f], y);
    }

    private static void AssertEveryLength<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(42);
        for (int length = 0; length <= 256; length++)
        {
            // Offsets of 1 and 3 elements make the spans start off any vector alignment, as GEMM's row slices do.
            var x = new T[length + 1];
            var y = new T[length + 3];
            foreach (ref T v in x.AsSpan()) v = T.CreateChecked(4 * rng.NextDouble() - 2);
            foreach (ref T v in y.AsSpan()) v = T.CreateChecked(4 * rng.NextDouble() - 2);
            T a = T.CreateChecked(rng.NextNormal());

            var expected = (T[])y.Clone();
            for (int i = 0; i < length; i++) expected[3 + i] = expected[3 + i] + a * x[1 + i];

            Gemm.Axpy(a, x.AsSpan(1, length), y.AsSpan(3, length));
            Assert.True(MemoryMarshal.AsBytes(expected.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(y.AsSpan())),
                $"{typeof(T).Name} length {length}: SIMD Axpy differs from y + a·x (or wrote outside its span).");
        }
    }
}
