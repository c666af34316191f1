using System.Numerics;
using System.Runtime.InteropServices;
using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

/// <summary>
/// <see cref="Gemm.Multiply"/> gives bit-identical results whatever <see cref="Threading.ThreadCount"/> is
/// (tolerance 0). Shapes are chosen so that 2 and 3 threads really split the work, by rows and by columns.
/// </summary>
[Collection(GlobalStateCollection.Name)]
[Trait("Category", "Kernels")]
public class GemmDeterminismTests
{
    // (m, n, k), each at least 3 × 2¹⁸ multiply-adds so that 3 threads get 3 parts: wide products split by
    // columns, tall ones by rows; m = 1 is the batch-1 row; (2, 3100, 300) crosses NC = 3072 and KC = 192 on
    // one thread but not within a part; (400, 33, 129) crosses MC = 384 likewise.
    private static readonly (int M, int N, int K)[] Shapes = [(70, 130, 300), (130, 70, 300), (1, 8192, 100), (2, 3100, 300), (400, 33, 129)];

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void FloatResultDoesNotDependOnThreadCount(bool transposeA, bool transposeB) => AssertSameForEveryThreadCount<float>(transposeA, transposeB);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void DoubleResultDoesNotDependOnThreadCount(bool transposeA, bool transposeB) => AssertSameForEveryThreadCount<double>(transposeA, transposeB);

    [Fact]
    public void ThreadCountBelowOneIsRejectedAndScopeRestores()
    {
        int before = Threading.ThreadCount;
        Assert.Throws<ArgumentOutOfRangeException>(() => Threading.ThreadCount = 0);
        Assert.Equal(before, Threading.ThreadCount);
        using (new ThreadCountScope(3)) Assert.Equal(3, Threading.ThreadCount);
        Assert.Equal(before, Threading.ThreadCount);
    }

    private static void AssertSameForEveryThreadCount<T>(bool transposeA, bool transposeB) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(7);
        foreach (var (m, n, k) in Shapes)
        {
            var a = Random<T>(transposeA ? k : m, transposeA ? m : k, rng);
            var b = Random<T>(transposeB ? n : k, transposeB ? k : n, rng);
            var c0 = Random<T>(m, n, rng);
            byte[]? single = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                var c = c0.Clone();
                using (new ThreadCountScope(threads))
                    Gemm.Multiply(a, transposeA, b, transposeB, c, T.CreateChecked(0.75), T.CreateChecked(0.5));
                byte[] bytes = MemoryMarshal.AsBytes(c.Span).ToArray();
                single ??= bytes;
                Assert.True(single.AsSpan().SequenceEqual(bytes),
                    $"{typeof(T).Name} ({m}, {n}, {k}) transposeA={transposeA} transposeB={transposeB}: {threads} threads differ from 1 thread.");
            }
        }
    }

    private static Matrix<T> Random<T>(int rows, int cols, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tensor = new Matrix<T>(rows, cols);
        foreach (ref T value in tensor.Span) value = T.CreateChecked(2 * rng.NextDouble() - 1);
        return tensor;
    }
}
