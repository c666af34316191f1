using System.Numerics;
using System.Runtime.InteropServices;
using ScratchNet.Compute;

namespace ScratchNet.Tests.Compute;

/// <summary>
/// <see cref="Gemm.Multiply"/> against <see cref="Gemm.Reference"/>. The two sum in different orders, so
/// they are compared within the classic dot-product bound: per element
/// |fast − reference| ≤ 2(k + 2)·ε·(|α|·Σ_p |op(A)[i,p]|·|op(B)[p,j]| + |β|·|C[i,j]|), ε the type's
/// machine epsilon. A wrong index or a missed term is off by O(1) of that sum, far above the bound.
/// </summary>
[Trait("Category", "Kernels")]
public class GemmTests
{
    // (m, n, k): op(A) is (m, k), op(B) is (k, n), C is (m, n). Covers 1×k×1, the batch-1 row (m = 1), n = 1,
    // k = 0, widths that are and are not multiples of the vector and tile widths, and products that cross
    // the blocked driver's cache blocks one at a time: k > KC = 192, m > MC = 384, n > NC = 3072.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 1, 37), (1, 19, 33), (1, 130, 300), (3, 5, 7), (8, 16, 32), (17, 9, 31), (13, 1, 5), (4, 3, 0),
        (13, 21, 200), (390, 9, 7), (3, 3080, 3),
    ];

    // Large enough (70·130·300 ≈ 2.7M multiply-adds) that Gemm splits it between threads; the slow reference
    // limits it to one scaling with alpha and beta both non-trivial (beta = 0 on a split product: BetaZeroOverwritesNaN...).
    private static readonly (int M, int N, int K) Large = (70, 130, 300);

    private static readonly (bool A, bool B)[] Transposes = [(false, false), (false, true), (true, false), (true, true)];

    private static readonly (double Alpha, double Beta)[] Scalings = [(1, 0), (0.5, 0), (1, 1), (-2, 0.25)];

    public static TheoryData<int, int, int, bool, bool, double, double> Cases()
    {
        var data = new TheoryData<int, int, int, bool, bool, double, double>();
        foreach (var (m, n, k) in Shapes)
            foreach (var (ta, tb) in Transposes)
                foreach (var (alpha, beta) in Scalings)
                    data.Add(m, n, k, ta, tb, alpha, beta);
        foreach (var (ta, tb) in Transposes) data.Add(Large.M, Large.N, Large.K, ta, tb, -2, 0.25);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FloatMatchesReference(int m, int n, int k, bool transposeA, bool transposeB, double alpha, double beta) =>
        AssertMatchesReference<float>(m, n, k, transposeA, transposeB, alpha, beta);

    [Theory]
    [MemberData(nameof(Cases))]
    public void DoubleMatchesReference(int m, int n, int k, bool transposeA, bool transposeB, double alpha, double beta) =>
        AssertMatchesReference<double>(m, n, k, transposeA, transposeB, alpha, beta);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void BetaZeroOverwritesNaNWithoutReadingIt(bool transposeA, bool transposeB)
    {
        // The last shape, 40·70·200 = 560k multiply-adds, is above the two-part threshold (2 × 2¹⁸) and crosses KC.
        foreach (var (m, n, k) in new[] { (1, 7, 5), (3, 5, 7), (40, 70, 200) })
        {
            Check<float>(m, n, k);
            Check<double>(m, n, k);
        }

        void Check<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var (a, b, _) = Operands<T>(m, n, k, transposeA, transposeB);
            var expected = new Matrix<T>(m, n);
            Gemm.Reference(a, transposeA, b, transposeB, expected, T.CreateChecked(1.5), T.Zero);
            var c = new Matrix<T>(m, n);
            c.Span.Fill(T.NaN);
            Gemm.Multiply(a, transposeA, b, transposeB, c, T.CreateChecked(1.5), T.Zero);
            foreach (T value in c.Span) Assert.True(T.IsFinite(value), $"{typeof(T).Name} ({m}, {n}, {k}): NaN in C leaked through beta = 0.");
            AssertClose(a, transposeA, b, transposeB, new Matrix<T>(m, n), 1.5, 0, expected, c);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void AlphaZeroBetaOneLeavesCBitForBit(bool transposeA, bool transposeB)
    {
        var (a, b, c) = Operands<double>(9, 11, 13, transposeA, transposeB);
        var before = Bytes(c.Span);
        Gemm.Multiply(a, transposeA, b, transposeB, c, 0.0, 1.0);
        Assert.Equal(before, Bytes(c.Span));
    }

    [Fact]
    public void BetaOneAccumulatesOntoC()
    {
        // Two products into the same C with beta = 1 equal the reference of their sum (k = 2 terms each side).
        var a1 = Matrix<double>.From(new double[,] { { 1, 2 }, { 3, 4 } });
        var b1 = Matrix<double>.From(new double[,] { { 5, 6 }, { 7, 8 } });
        var c = Matrix<double>.From(new double[,] { { 100, 200 }, { 300, 400 } });
        Gemm.Multiply(a1, false, b1, false, c, 1.0, 1.0);
        Gemm.Multiply(a1, false, b1, true, c, 2.0, 1.0);
        // a1·b1 = [[19, 22], [43, 50]]; a1·b1ᵀ = [[17, 23], [39, 53]]; all exact in binary.
        Assert.Equal([100 + 19 + 34, 200 + 22 + 46, 300 + 43 + 78, 400 + 50 + 106], c.ToArray());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void InnerDimensionMismatchThrowsNamingBothShapes(bool transposeA, bool transposeB)
    {
        // op(A) is (3, 4), op(B) is (5, 2).
        var a = transposeA ? new Matrix<float>(4, 3) : new Matrix<float>(3, 4);
        var b = transposeB ? new Matrix<float>(2, 5) : new Matrix<float>(5, 2);
        var c = new Matrix<float>(3, 2);
        var fast = Assert.Throws<ShapeMismatchException>(() => Gemm.Multiply(a, transposeA, b, transposeB, c, 1f, 0f));
        var reference = Assert.Throws<ShapeMismatchException>(() => Gemm.Reference(a, transposeA, b, transposeB, c, 1f, 0f));
        foreach (var e in new[] { fast, reference })
        {
            Assert.Contains("(3, 4)", e.Message);
            Assert.Contains("(5, 2)", e.Message);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void WrongOutputShapeThrowsNamingBothShapes(bool transposeA, bool transposeB)
    {
        var a = transposeA ? new Matrix<double>(4, 3) : new Matrix<double>(3, 4);
        var b = transposeB ? new Matrix<double>(2, 4) : new Matrix<double>(4, 2);
        var c = new Matrix<double>(2, 3);
        var e = Assert.Throws<ShapeMismatchException>(() => Gemm.Multiply(a, transposeA, b, transposeB, c, 1.0, 0.0));
        Assert.Contains("(3, 2)", e.Message);
        Assert.Contains("(2, 3)", e.Message);
    }

    private static void AssertMatchesReference<T>(int m, int n, int k, bool transposeA, bool transposeB, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (a, b, c) = Operands<T>(m, n, k, transposeA, transposeB);
        var expected = c.Clone();
        Gemm.Reference(a, transposeA, b, transposeB, expected, T.CreateChecked(alpha), T.CreateChecked(beta));
        var actual = c.Clone();
        Gemm.Multiply(a, transposeA, b, transposeB, actual, T.CreateChecked(alpha), T.CreateChecked(beta));
        AssertClose(a, transposeA, b, transposeB, c, alpha, beta, expected, actual);
    }

    // Random A, B and C in [-1, 1), shaped so that op(A) is (m, k) and op(B) is (k, n); the seed depends on the case.
    private static (Matrix<T> A, Matrix<T> B, Matrix<T> C) Operands<T>(int m, int n, int k, bool transposeA, bool transposeB)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng((ulong)(m * 1_000_003 + n * 1_009 + k * 7 + (transposeA ? 2 : 0) + (transposeB ? 1 : 0)));
        return (Random<T>(transposeA ? k : m, transposeA ? m : k, rng), Random<T>(transposeB ? n : k, transposeB ? k : n, rng), Random<T>(m, n, rng));
    }

    private static Matrix<T> Random<T>(int rows, int cols, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tensor = new Matrix<T>(rows, cols);
        foreach (ref T value in tensor.Span) value = T.CreateChecked(2 * rng.NextDouble() - 1);
        return tensor;
    }

    private static void AssertClose<T>(Matrix<T> a, bool transposeA, Matrix<T> b, bool transposeB, Matrix<T> c, double alpha, double beta, Matrix<T> expected, Matrix<T> actual)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double epsilon = double.CreateChecked(T.BitIncrement(T.One) - T.One);
        int m = c.Rows, n = c.Cols, k = transposeA ? a.Rows : a.Cols;
        // |op(A)| (m, k) and |op(B)| (k, n) as plain double arrays: the bound's sum is as costly as the product.
        var absA = new double[m * k];
        var absB = new double[k * n];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) absA[i * k + p] = Math.Abs(double.CreateChecked(transposeA ? a[p, i] : a[i, p]));
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) absB[p * n + j] = Math.Abs(double.CreateChecked(transposeB ? b[j, p] : b[p, j]));
        var fast = actual.ToArray();
        var reference = expected.ToArray();
        var before = c.ToArray();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double magnitude = 0;
                for (int p = 0; p < k; p++) magnitude += absA[i * k + p] * absB[p * n + j];
                magnitude = Math.Abs(alpha) * magnitude + Math.Abs(beta) * Math.Abs(double.CreateChecked(before[i * n + j]));
                double tolerance = 2 * (k + 2) * epsilon * magnitude;
                double difference = Math.Abs(double.CreateChecked(fast[i * n + j]) - double.CreateChecked(reference[i * n + j]));
                Assert.True(difference <= tolerance,
                    $"{typeof(T).Name} C[{i}, {j}] of ({m}, {n}), k = {k}: fast {fast[i * n + j]}, reference {reference[i * n + j]}, |diff| {difference:G3} > tolerance {tolerance:G3}.");
            }
    }

    private static byte[] Bytes<T>(Span<T> values) where T : unmanaged => MemoryMarshal.AsBytes(values).ToArray();
}
