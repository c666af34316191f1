using System.Numerics;
using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

// Forcing a micro-kernel and changing the thread count are process-wide.
[Collection(GlobalStateCollection.Name)]
[Trait("Category", "Kernels")]
public class GemmKernelTests
{
    public static TheoryData<GemmKernel> SupportedKernels()
    {
        var data = new TheoryData<GemmKernel>();
        foreach (var kernel in Enum.GetValues<GemmKernel>().Where(Gemm.IsSupported)) data.Add(kernel);
        return data;
    }

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void EveryShapeUpTo33MatchesTheReference_Float(GemmKernel kernel) => EveryShapeUpTo33<float>(kernel);

    [Theory]
    [MemberData(nameof(SupportedKernels))]
    public void EveryShapeUpTo33MatchesTheReference_Double(GemmKernel kernel) => EveryShapeUpTo33<double>(kernel);

    // All m, n, k in 1..33 cross every micro-tile and vector tail; each (m, n, k) takes one transpose
    // case and one alpha/beta pair in turn, so all combinations of those occur many times over.
    private static void EveryShapeUpTo33<T>(GemmKernel kernel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kernel;
            var rng = new Rng(33);
            (double Alpha, double Beta)[] scalings = [(1, 0), (1, 1), (0.5, -2), (-1.5, 0)];
            int index = 0;
            for (int m = 1; m <= 33; m++)
                for (int n = 1; n <= 33; n++)
                    for (int k = 1; k <= 33; k++, index++)
                    {
                        bool transposeA = (index & 1) != 0, transposeB = (index & 2) != 0;
                        var (alpha, beta) = scalings[(index >> 2) % scalings.Length];
                        Check<T>(m, n, k, transposeA, transposeB, alpha, beta, rng, $"{kernel} m={m} n={n} k={k}");
                    }
        }
        finally
        {
            Gemm.Kernel = saved;
        }
    }

    [Theory]
    [InlineData(64, 800, 3072, false, true)]    // Linear forward, batch 64
    [InlineData(800, 3072, 64, true, false)]    // weight gradient
    [InlineData(64, 3072, 800, false, false)]   // input gradient
    [InlineData(1, 800, 784, false, true)]      // batch-1 forward (GEMV path)
    [InlineData(3, 300, 800, false, true)]      // GEMV path, several rows
    [InlineData(200, 70, 500, true, true)]      // TT, blocked in k
    [InlineData(390, 3100, 200, false, false)]  // crosses MC and NC block edges
    public void LayerShapesMatchTheReferenceOnEveryKernel(int m, int n, int k, bool transposeA, bool transposeB)
    {
        var saved = Gemm.Kernel;
        try
        {
            foreach (var kernel in Enum.GetValues<GemmKernel>().Where(Gemm.IsSupported))
            {
                Gemm.Kernel = kernel;
                Check<float>(m, n, k, transposeA, transposeB, 1, 0.5, new Rng(7), $"{kernel} {m}x{n}x{k}");
            }
        }
        finally
        {
            Gemm.Kernel = saved;
        }
    }

    [Fact]
    public void ZeroDepthScalesCByBeta()
    {
        var a = new Matrix<double>(3, 0);
        var b = new Matrix<double>(0, 4);
        var c = new Matrix<double>(3, 4);
        c.Span.Fill(2);
        Gemm.Multiply(a, false, b, false, c, 1.0, 0.5);
        Assert.All(c.ToArray(), v => Assert.Equal(1.0, v));
    }

    private static void Check<T>(int m, int n, int k, bool transposeA, bool transposeB, double alpha, double beta, Rng rng, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = transposeA ? KernelAssert.Random<T>(k, m, rng) : KernelAssert.Random<T>(m, k, rng);
        var b = transposeB ? KernelAssert.Random<T>(n, k, rng) : KernelAssert.Random<T>(k, n, rng);
        var expected = KernelAssert.Random<T>(m, n, rng);
        var actual = expected.Clone();
        Gemm.Reference(a, transposeA, b, transposeB, expected, T.CreateChecked(alpha), T.CreateChecked(beta));
        Gemm.Multiply(a, transposeA, b, transposeB, actual, T.CreateChecked(alpha), T.CreateChecked(beta));
        // Sums of k products of N(0,1) values: error grows with √k, the scale with the largest result.
        KernelAssert.Close<T>(expected.Span, actual.Span, KernelAssert.SumTolerance<T>() * Math.Sqrt(k), $"{what} {(transposeA ? 'T' : 'N')}{(transposeB ? 'T' : 'N')} alpha={alpha} beta={beta}");
    }
}
