using System.Numerics;
using ILGPU;

namespace ScratchNet.Gpu.Kernels;

/// <summary>The dimensions of a GEMM, C (m, n) = α·op(A)·op(B) + β·C, in one kernel argument.</summary>
internal readonly struct GemmShape(int m, int n, int k, int lda, int ldb, int ldc, bool transposeA, bool transposeB)
{
    public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly int TransposeA = transposeA ? 1 : 0, TransposeB = transposeB ? 1 : 0;
}

/// <summary>
/// The primitives' kernels, generic over the element type (ILGPU compiles one per type). Each thread owns one
/// output element, row or column and sums in a fixed order, so every result is deterministic, and no kernel
/// needs barriers or warp shuffles (which the CPU accelerator would emulate with an OS thread per GPU thread).
/// </summary>
internal static class PrimitiveKernels
{
    /// <summary>C[i, j] = α·Σ_p op(A)[i, p]·op(B)[p, j] + β·C[i, j], one thread per element of C; β = 0 ignores C's old contents.</summary>
    public static void Gemm<T>(Index1D e, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmShape s, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = e / s.N, j = e - i * s.N;
        T sum = T.Zero;
        for (int p = 0; p < s.K; p++)
        {
            T left = s.TransposeA != 0 ? a[(long)p * s.Lda + i] : a[(long)i * s.Lda + p];
            T right = s.TransposeB != 0 ? b[(long)j * s.Ldb + p] : b[(long)p * s.Ldb + j];
            sum += left * right;
        }
        long at = (long)i * s.Ldc + j;
        c[at] = beta == T.Zero ? alpha * sum : alpha * sum + beta * c[at];
    }

    /// <summary>The largest tile side of <see cref="GemmTiled{T}"/> (its shared-memory size): 16 × 16 threads per group.</summary>
    public const int MaxTileSide = 16;

    /// <summary>
    /// <see cref="Gemm{T}"/> in shared-memory tiles: a group of side × side threads owns a tile of C; op(A)'s and op(B)'s
    /// tiles are staged with consecutive threads reading consecutive addresses whichever operand is transposed, and each
    /// thread sums its element over k in order, so the result equals <see cref="Gemm{T}"/>'s.
    /// </summary>
    public static void GemmTiled<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmShape s, T alpha, T beta, int side)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var aTile = SharedMemory.Allocate<T>(MaxTileSide * MaxTileSide);   // [row][p]
        var bTile = SharedMemory.Allocate<T>(MaxTileSide * MaxTileSide);   // [p][col]
        int tx = Group.IdxX % side, ty = Group.IdxX / side;
        int tilesN = (s.N + side - 1) / side;
        int rowBase = Grid.IdxX / tilesN * side, colBase = Grid.IdxX % tilesN * side;
        T sum = T.Zero;
        for (int p0 = 0; p0 < s.K; p0 += side)
        {
            if (s.TransposeA != 0)
            {
                int row = rowBase + tx, p = p0 + ty;   // consecutive tx: consecutive rows of C, contiguous in Aᵀ's storage
                aTile[tx * side + ty] = row < s.M && p < s.K ? a[(long)p * s.Lda + row] : T.Zero;
            }
            else
            {
                int row = rowBase + ty, p = p0 + tx;
                aTile[ty * side + tx] = row < s.M && p < s.K ? a[(long)row * s.Lda + p] : T.Zero;
            }
            if (s.TransposeB != 0)
            {
                int col = colBase + ty, p = p0 + tx;
                bTile[tx * side + ty] = col < s.N && p < s.K ? b[(long)col * s.Ldb + p] : T.Zero;
            }
            else
            {
                int col = colBase + tx, p = p0 + ty;
                bTile[ty * side + tx] = col < s.N && p < s.K ? b[(long)p * s.Ldb + col] : T.Zero;
            }
            Group.Barrier();
            int steps = s.K - p0 < side ? s.K - p0 : side;
            for (int q = 0; q < steps; q++) sum += aTile[ty * side + q] * bTile[q * side + tx];
            Group.Barrier();
        }
        int i = rowBase + ty, j = colBase + tx;
        if (i >= s.M || j >= s.N) return;
        long at = (long)i * s.Ldc + j;
        c[at] = beta == T.Zero ? alpha * sum : alpha * sum + beta * c[at];
    }

    /// <summary>x[r, c] += v[c].</summary>
    public static void AddRowVector<T>(Index1D e, ArrayView<T> x, ArrayView<T> vector, int cols) where T : unmanaged, IFloatingPointIeee754<T> =>
        x[e] += vector[e % cols];

    /// <summary>sums[c] = keep·sums[c] + Σ_r x[r, c], one thread per column, rows in order.</summary>
    public static void ColumnSums<T>(Index1D c, ArrayView<T> x, ArrayView<T> sums, int rows, int cols, T keep) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int r = 0; r < rows; r++) sum += x[(long)r * cols + c];
        sums[c] = keep == T.Zero ? sum : keep * sums[c] + sum;
    }

    /// <summary>
    /// y = f(x) for the element-wise function <paramref name="op"/> (an <see cref="ElementOp"/>) with its parameter;
    /// <paramref name="series"/> holds the normal CDF's Chebyshev coefficients for the exact GELU.
    /// </summary>
    public static void Map<T>(Index1D e, ArrayView<T> x, ArrayView<T> y, int op, T parameter, T half, T cubic, T root2OverPi, ArrayView<T> series)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T v = x[e];
        if (op == (int)ElementOp.GeluExact)
        {
            y[e] = v * NormalCdf(v, series, out _);
            return;
        }
        y[e] = op switch
        {
            (int)ElementOp.Relu => v > T.Zero ? v : T.Zero,
            (int)ElementOp.LeakyRelu => v > T.Zero ? v : parameter * v,
            (int)ElementOp.Sigmoid => T.One / (T.One + T.Exp(-v)),
            (int)ElementOp.Tanh => T.Tanh(v),
            (int)ElementOp.Gelu => half * v * (T.One + T.Tanh(root2OverPi * (v + cubic * v * v * v))),
            (int)ElementOp.Scale => v * parameter,
            _ => v,
        };
    }

    /// <summary>dx = dy·f′, with f′ from the output y (relu, leaky relu, sigmoid, tanh) or the input x (GELU).</summary>
    public static void MapGradient<T>(Index1D e, ArrayView<T> x, ArrayView<T> y, ArrayView<T> dy, ArrayView<T> dx, int op, T parameter, T half, T cubic, T root2OverPi,
        ArrayView<T> series) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T g = dy[e];
        if (op == (int)ElementOp.GeluExact)
        {
            T v = x[e];
            T cdf = NormalCdf(v, series, out T density);
            dx[e] = g * (cdf + v * density);
            return;
        }
        if (op == (int)ElementOp.Gelu)
        {
            T v = x[e];
            T t = T.Tanh(root2OverPi * (v + cubic * v * v * v));
            T du = root2OverPi * (T.One + (cubic + cubic + cubic) * v * v);
            dx[e] = g * half * (T.One + t + v * (T.One - t * t) * du);
            return;
        }
        T o = y[e];
        dx[e] = op switch
        {
            (int)ElementOp.Relu => o > T.Zero ? g : T.Zero,
            (int)ElementOp.LeakyRelu => o > T.Zero ? g : parameter * g,
            (int)ElementOp.Sigmoid => g * o * (T.One - o),
            (int)ElementOp.Tanh => g * (T.One - o * o),
            (int)ElementOp.Scale => g * parameter,
            _ => g,
        };
    }

    // Φ(v) and φ(v) as the CPU's NormalCdf computes them (series: its Chebyshev coefficients c₀ … cₙ, then 1/√2, 1/√(2π)
    // and the largest z): ½·erfc(z) = ¼·(1 + u)·e^(−z²)·Q(u), z = |v|/√2, u = (2 − z)/(2 + z).
    private static T NormalCdf<T>(T v, ArrayView<T> series, out T density) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = (int)series.Length - 3;
        T two = T.One + T.One;
        T z = T.Abs(v) * series[n];
        if (z > series[n + 2]) z = series[n + 2];
        T u = (two - z) / (two + z), twoU = u + u, b1 = T.Zero, b2 = T.Zero;
        for (int k = n - 1; k >= 1; k--)
        {
            T b0 = twoU * b1 + (series[k] - b2);
            b2 = b1;
            b1 = b0;
        }
        T q = u * b1 + (series[0] - b2);
        T e = T.Exp(-(z * z));
        T tail = (T.One + u) * e * q / (two + two);
        density = e * series[n + 1];
        return v < T.Zero ? tail : T.One - tail;
    }

    /// <summary>y = a ⊙ b.</summary>
    public static void Multiply<T>(Index1D e, ArrayView<T> a, ArrayView<T> b, ArrayView<T> y) where T : unmanaged, IFloatingPointIeee754<T> =>
        y[e] = a[e] * b[e];

    /// <summary>y = a + b.</summary>
    public static void Add<T>(Index1D e, ArrayView<T> a, ArrayView<T> b, ArrayView<T> y) where T : unmanaged, IFloatingPointIeee754<T> =>
        y[e] = a[e] + b[e];

    /// <summary>y += α·x.</summary>
    public static void Axpy<T>(Index1D e, ArrayView<T> x, ArrayView<T> y, T alpha) where T : unmanaged, IFloatingPointIeee754<T> =>
        y[e] += alpha * x[e];

    /// <summary>y[r] = softmax(x[r]), one thread per row: max, Σ exp(x − max), then the quotients.</summary>
    public static void RowSoftmax<T>(Index1D r, ArrayView<T> x, ArrayView<T> y, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long row = (long)r.X * cols;
        T max = x[row];
        for (int j = 1; j < cols; j++) max = T.Max(max, x[row + j]);
        T sum = T.Zero;
        for (int j = 0; j < cols; j++)
        {
            T p = T.Exp(x[row + j] - max);
            y[row + j] = p;
            sum += p;
        }
        T inverse = T.One / sum;
        for (int j = 0; j < cols; j++) y[row + j] *= inverse;
    }

    /// <summary>dx[r] = y[r] ⊙ (dy[r] − ⟨dy[r], y[r]⟩), softmax's backward from its output, one thread per row.</summary>
    public static void RowSoftmaxGradient<T>(Index1D r, ArrayView<T> y, ArrayView<T> dy, ArrayView<T> dx, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long row = (long)r.X * cols;
        T dot = T.Zero;
        for (int j = 0; j < cols; j++) dot += dy[row + j] * y[row + j];
        for (int j = 0; j < cols; j++) dx[row + j] = y[row + j] * (dy[row + j] - dot);
    }

    /// <summary>
    /// Softmax cross-entropy from logits z against the smoothed targets y' = keep·y + spread (keep = 1 − ε, spread = ε/k;
    /// keep = 1, spread = 0 without smoothing), one thread per row: loss lse·Σy' − keep·Σ y·z − spread·Σ z into rowLoss,
    /// 1 or 0 into rowCorrect (argmax of the probabilities = argmax y, first index on ties), and, when
    /// <paramref name="withGradient"/> is 1, (p·Σy' − keep·y − spread)·scale into the gradient.
    /// </summary>
    public static void SoftmaxCrossEntropy<T>(Index1D r, ArrayView<T> z, ArrayView<T> y, ArrayView<T> gradient, ArrayView<T> rowLoss, ArrayView<T> rowCorrect,
                                              int cols, T scale, int withGradient, T keep, T spread, T classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long row = (long)r.X * cols;
        T max = z[row];
        for (int j = 1; j < cols; j++) max = T.Max(max, z[row + j]);
        T sum = T.Zero, mass = T.Zero, targetDot = T.Zero, logitSum = T.Zero, best = T.Zero, bestTarget = y[row];
        int predicted = 0, label = 0;
        for (int j = 0; j < cols; j++)
        {
            T p = T.Exp(z[row + j] - max);
            sum += p;
            if (p > best) { best = p; predicted = j; }
            T t = y[row + j];
            mass += t;
            targetDot += t * z[row + j];
            logitSum += z[row + j];
            if (t > bestTarget) { bestTarget = t; label = j; }
        }
        T logSumExp = max + T.Log(sum);
        T smoothedMass = keep * mass + spread * classes;
        rowLoss[r] = logSumExp * smoothedMass - keep * targetDot - spread * logitSum;
        rowCorrect[r] = predicted == label ? T.One : T.Zero;
        if (withGradient == 0) return;
        T inverse = T.One / sum;
        for (int j = 0; j < cols; j++) gradient[row + j] = (T.Exp(z[row + j] - max) * inverse * smoothedMass - keep * y[row + j] - spread) * scale;
    }

    /// <summary>The L2 loss Σ (o − y)² per row, the argmax match, and, when <paramref name="withGradient"/> is 1, (o − y)·scale (scale = 2/B).</summary>
    public static void SquaredError<T>(Index1D r, ArrayView<T> o, ArrayView<T> y, ArrayView<T> gradient, ArrayView<T> rowLoss, ArrayView<T> rowCorrect,
                                       int cols, T scale, int withGradient, T unusedKeep, T unusedSpread, T unusedClasses) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long row = (long)r.X * cols;
        T sum = T.Zero, best = o[row], bestTarget = y[row];
        int predicted = 0, label = 0;
        for (int j = 0; j < cols; j++)
        {
            T d = o[row + j] - y[row + j];
            sum += d * d;
            if (o[row + j] > best) { best = o[row + j]; predicted = j; }
            if (y[row + j] > bestTarget) { bestTarget = y[row + j]; label = j; }
            if (withGradient != 0) gradient[row + j] = d * scale;
        }
        rowLoss[r] = sum;
        rowCorrect[r] = predicted == label ? T.One : T.Zero;
    }

    /// <summary>
    /// Partial sums for <see cref="FinishSum{T}"/>: thread t sums (the squares of, when square is 1) values[t·chunk, (t + 1)·chunk)
    /// in order. In the element type: ILGPU cannot compile generic conversions, and the host's sums of squares are in it too.
    /// </summary>
    public static void PartialSums<T>(Index1D t, ArrayView<T> values, ArrayView<T> partial, long count, long chunk, int square)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        long end = (t + 1) * chunk;
        if (end > count) end = count;
        for (long e = t * chunk; e < end; e++)
        {
            T v = values[e];
            sum += square != 0 ? v * v : v;
        }
        partial[t] = sum;
    }

    /// <summary>sums[slot] += Σ partial[0..parts), in order, on one thread.</summary>
    public static void FinishSum<T>(Index1D thread, ArrayView<T> partial, ArrayView<T> sums, int parts, int slot)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (thread != 0) return;
        T sum = T.Zero;
        for (int t = 0; t < parts; t++) sum += partial[t];
        sums[slot] += sum;
    }
}

/// <summary>The element-wise functions of <see cref="PrimitiveKernels.Map{T}"/>.</summary>
internal enum ElementOp
{
    Identity = 0,
    Relu = 1,
    LeakyRelu = 2,
    Sigmoid = 3,
    Tanh = 4,
    Gelu = 5,
    Scale = 6,   // y = s·x with the parameter s
    GeluExact = 7,
}
