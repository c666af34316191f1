using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ScratchNet.Layers;

namespace ScratchNet.Compute;

/// <summary>
/// GELU over spans, in either of PyTorch's forms, and its backward. The exact form (<see cref="GeluApproximation.None"/>) is
/// y = x·Φ(x), dx = dy·(Φ(x) + x·φ(x)), with <see cref="NormalCdf{T}"/>'s Φ and φ. The tanh form is y = x·(1 + t)/2 with
/// t = tanh(√(2/π)·(x + 0.044715·x³)), dx = dy·((1 + t)/2 + x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)/2). The backward
/// recomputes Φ or t from x rather than reading a stored copy: it costs less than keeping a tensor of them alive from
/// forward to backward (in a CNN, one per GELU layer: hundreds of megabytes at batch 1024) and streaming it back. The
/// vector path computes tanh as sign(u)·(1 − e)/(1 + e), e = exp(−2|u|) (never overflowing), for every element: the last
/// partial vector goes through a padded copy, so each element's value depends on neither the span's length nor how the
/// span is split among threads. The vectors are 512 bits where the machine runs them (AVX-512: the pass is bound by the
/// exponential's arithmetic, not by memory), else <see cref="Vector{T}"/>'s. The scalar versions are the reference the
/// tests hold the vector ones to.
/// </summary>
internal static class GeluKernels
{
    /// <summary>Whether the passes run on 512-bit vectors: where the machine runs them (tests turn it off to reach the other path).</summary>
    internal static bool Wide { get; set; } = Vector512.IsHardwareAccelerated;

    /// <summary>Lanes of the vectors the passes run on: the unit of their parts and of the padded tail.</summary>
    public static int Width<T>() where T : unmanaged, IFloatingPointIeee754<T> => Wide ? Vector512<T>.Count : Vector<T>.Count;

    private const double Root2OverPi = 0.79788456080286535588;   // √(2/π)
    private const double Cubic = 0.044715;

    /// <summary>y from x, parallel over the thread team in parts that are whole vectors.</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, GeluJob<T> job) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated) { ForwardScalar(job.Approximate, x, y); return; }
        job.Forward(x, y);
    }

    /// <summary>dx from x and dy, parallel as <see cref="Forward{T}"/>.</summary>
    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, GeluJob<T> job) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated) { BackwardScalar(job.Approximate, x, dy, dx); return; }
        job.Backward(x, dy, dx);
    }

    /// <summary>The scalar reference of the forward pass.</summary>
    public static void ForwardScalar<T>(GeluApproximation approximate, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T k = T.CreateChecked(Root2OverPi), c = T.CreateChecked(Cubic), half = T.CreateChecked(0.5);
        for (int i = 0; i < x.Length; i++)
        {
            T xi = x[i];
            if (approximate == GeluApproximation.None)
            {
                y[i] = xi * NormalCdf<T>.Cdf(xi, out _);
                continue;
            }
            T t = T.Tanh(k * (xi + c * xi * xi * xi));
            y[i] = half * xi * (T.One + t);
        }
    }

    /// <summary>The scalar reference of the backward pass.</summary>
    public static void BackwardScalar<T>(GeluApproximation approximate, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T k = T.CreateChecked(Root2OverPi), c = T.CreateChecked(Cubic), c3 = T.CreateChecked(3 * Cubic), half = T.CreateChecked(0.5);
        for (int i = 0; i < x.Length; i++)
        {
            T xi = x[i];
            if (approximate == GeluApproximation.None)
            {
                T cdf = NormalCdf<T>.Cdf(xi, out T e);
                dx[i] = dy[i] * T.FusedMultiplyAdd(xi * NormalCdf<T>.DensityScale, e, cdf);
                continue;
            }
            T t = T.Tanh(k * (xi + c * xi * xi * xi));
            T du = k * (T.One + c3 * xi * xi);
            dx[i] = dy[i] * half * (T.One + t + xi * (T.One - t * t) * du);
        }
    }

    /// <summary>Forward on whole vectors: <paramref name="length"/> a multiple of <see cref="Width{T}"/>.</summary>
    internal static unsafe void ForwardVectors<T>(GeluApproximation approximate, T* x, T* y, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Wide)
        {
            if (approximate == GeluApproximation.None) ExactForwardVectors512(x, y, length);
            else ForwardVectors512(x, y, length);
            return;
        }
        if (approximate == GeluApproximation.None)
        {
            for (int i = 0; i < length; i += Vector<T>.Count)
            {
                var xv = Vector.Load(x + i);
                Vector.Store(xv * NormalCdf<T>.Cdf(xv, out _), y + i);
            }
            return;
        }
        var k = new Vector<T>(T.CreateChecked(Root2OverPi));
        var kc = new Vector<T>(T.CreateChecked(Root2OverPi * Cubic));
        var half = new Vector<T>(T.CreateChecked(0.5));
        for (int i = 0; i < length; i += Vector<T>.Count)
        {
            var xv = Vector.Load(x + i);
            var tv = Tanh(xv * Simd.Fma(kc, xv * xv, k));   // u = k·x + k·c·x³
            Vector.Store(half * Simd.Fma(xv, tv, xv), y + i);
        }
    }

    /// <summary>Backward on whole vectors: <paramref name="length"/> a multiple of <see cref="Width{T}"/>.</summary>
    internal static unsafe void BackwardVectors<T>(GeluApproximation approximate, T* x, T* dy, T* dx, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Wide)
        {
            if (approximate == GeluApproximation.None) ExactBackwardVectors512(x, dy, dx, length);
            else BackwardVectors512(x, dy, dx, length);
            return;
        }
        if (approximate == GeluApproximation.None)
        {
            var scale = new Vector<T>(NormalCdf<T>.DensityScale);
            for (int i = 0; i < length; i += Vector<T>.Count)
            {
                var xv = Vector.Load(x + i);
                var cdf = NormalCdf<T>.Cdf(xv, out var e);
                Vector.Store(Vector.Load(dy + i) * Simd.Fma(xv * scale, e, cdf), dx + i);
            }
            return;
        }
        var k = new Vector<T>(T.CreateChecked(Root2OverPi));
        var kc = new Vector<T>(T.CreateChecked(Root2OverPi * Cubic));
        var kc3 = new Vector<T>(T.CreateChecked(Root2OverPi * 3 * Cubic));
        var half = new Vector<T>(T.CreateChecked(0.5));
        for (int i = 0; i < length; i += Vector<T>.Count)
        {
            var xv = Vector.Load(x + i);
            var x2 = xv * xv;
            var tv = Tanh(xv * Simd.Fma(kc, x2, k));        // the forward's t, bit for bit
            var du = Simd.Fma(kc3, x2, k);
            var slope = Simd.Fma(xv * (Vector<T>.One - tv * tv), du, Vector<T>.One + tv);
            Vector.Store(Vector.Load(dy + i) * half * slope, dx + i);
        }
    }

    /// <summary>
    /// <see cref="Forward{T}"/> over one span on the calling thread, in place when <paramref name="y"/> is <paramref name="x"/>:
    /// each element bit for bit as the parallel pass computes it, for a layer that applies GELU inside a pass of its own
    /// over slices of a tensor (<see cref="BatchNorm2d{T}"/>'s runs of output planes).
    /// </summary>
    public static unsafe void ForwardSpan<T>(GeluApproximation approximate, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated) { ForwardScalar(approximate, x, y); return; }
        int whole = x.Length / Width<T>() * Width<T>();
        fixed (T* px = x, py = y)
        {
            ForwardVectors(approximate, px, py, whole);
            PaddedTail(approximate, px + whole, py + whole, null, x.Length - whole);
        }
    }

    /// <summary><see cref="Backward{T}"/> over one span on the calling thread, as <see cref="ForwardSpan{T}"/>; <paramref name="dx"/> may be <paramref name="x"/> or <paramref name="dy"/>.</summary>
    public static unsafe void BackwardSpan<T>(GeluApproximation approximate, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated) { BackwardScalar(approximate, x, dy, dx); return; }
        int whole = x.Length / Width<T>() * Width<T>();
        fixed (T* px = x, pdy = dy, pdx = dx)
        {
            BackwardVectors(approximate, px, pdy, pdx, whole);
            PaddedTail(approximate, px + whole, pdx + whole, pdy + whole, x.Length - whole);
        }
    }

    /// <summary>
    /// The last <paramref name="rest"/> (fewer than <see cref="Width{T}"/>) elements, padded to one vector with zeros: the
    /// same vector arithmetic as every other element. Forward when <paramref name="dy"/> is null; <paramref name="output"/> may alias the inputs.
    /// </summary>
    internal static unsafe void PaddedTail<T>(GeluApproximation approximate, T* x, T* output, T* dy, int rest) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rest == 0) return;
        int width = Width<T>();
        var bx = stackalloc T[width];
        var bo = stackalloc T[width];
        var bdy = stackalloc T[width];
        for (int i = 0; i < width; i++) bx[i] = bdy[i] = T.Zero;
        for (int i = 0; i < rest; i++)
        {
            bx[i] = x[i];
            if (dy is not null) bdy[i] = dy[i];
        }
        if (dy is null) ForwardVectors(approximate, bx, bo, width);
        else BackwardVectors(approximate, bx, bdy, bo, width);
        for (int i = 0; i < rest; i++) output[i] = bo[i];
    }

    // tanh u = sign(u)·(1 − e)/(1 + e), e = exp(−2|u|) ∈ (0, 1].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Tanh<T>(Vector<T> u) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = Simd.Exp(Vector.Abs(u) * new Vector<T>(-T.CreateChecked(2)));
        var magnitude = (Vector<T>.One - e) / (Vector<T>.One + e);
        return Vector.ConditionalSelect(Vector.LessThan(u, Vector<T>.Zero), -magnitude, magnitude);
    }

    // The exact form's forward on 512-bit vectors.
    private static unsafe void ExactForwardVectors512<T>(T* x, T* y, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < length; i += Vector512<T>.Count)
        {
            var xv = Vector512.Load(x + i);
            (xv * NormalCdf<T>.Cdf(xv, out _)).Store(y + i);
        }
    }

    // The exact form's backward on 512-bit vectors.
    private static unsafe void ExactBackwardVectors512<T>(T* x, T* dy, T* dx, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var scale = Vector512.Create(NormalCdf<T>.DensityScale);
        for (int i = 0; i < length; i += Vector512<T>.Count)
        {
            var xv = Vector512.Load(x + i);
            var cdf = NormalCdf<T>.Cdf(xv, out var e);
            (Vector512.Load(dy + i) * Simd.Fma(xv * scale, e, cdf)).Store(dx + i);
        }
    }

    // ForwardVectors on 512-bit vectors: the same arithmetic, lane by lane.
    private static unsafe void ForwardVectors512<T>(T* x, T* y, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Vector512.Create(T.CreateChecked(Root2OverPi));
        var kc = Vector512.Create(T.CreateChecked(Root2OverPi * Cubic));
        var half = Vector512.Create(T.CreateChecked(0.5));
        for (int i = 0; i < length; i += Vector512<T>.Count)
        {
            var xv = Vector512.Load(x + i);
            var tv = Tanh512(xv * Simd.Fma(kc, xv * xv, k));
            (half * Simd.Fma(xv, tv, xv)).Store(y + i);
        }
    }

    // BackwardVectors on 512-bit vectors.
    private static unsafe void BackwardVectors512<T>(T* x, T* dy, T* dx, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Vector512.Create(T.CreateChecked(Root2OverPi));
        var kc = Vector512.Create(T.CreateChecked(Root2OverPi * Cubic));
        var kc3 = Vector512.Create(T.CreateChecked(Root2OverPi * 3 * Cubic));
        var half = Vector512.Create(T.CreateChecked(0.5));
        for (int i = 0; i < length; i += Vector512<T>.Count)
        {
            var xv = Vector512.Load(x + i);
            var x2 = xv * xv;
            var tv = Tanh512(xv * Simd.Fma(kc, x2, k));
            var du = Simd.Fma(kc3, x2, k);
            var slope = Simd.Fma(xv * (Vector512<T>.One - tv * tv), du, Vector512<T>.One + tv);
            (Vector512.Load(dy + i) * half * slope).Store(dx + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Tanh512<T>(Vector512<T> u) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = Simd.Exp(Vector512.Abs(u) * Vector512.Create(-T.CreateChecked(2)));
        var magnitude = (Vector512<T>.One - e) / (Vector512<T>.One + e);
        return Vector512.ConditionalSelect(Vector512.LessThan(u, Vector512<T>.Zero), -magnitude, magnitude);
    }
}

/// <summary>
/// A GELU pass split over the thread team; each layer owns one, so that a warm pass allocates nothing. Parts are
/// runs of whole vectors; the span's last partial vector is computed padded, by part 0's caller after the team.
/// </summary>
internal sealed unsafe class GeluJob<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int MinPerPart = 1 << 14;
    private T* _x, _out, _dy;
    private int _vectors;

    /// <summary>The form of GELU the job computes.</summary>
    public GeluApproximation Approximate { get; init; } = GeluApproximation.Tanh;

    /// <summary>y (written) from x.</summary>
    public void Forward(ReadOnlySpan<T> x, Span<T> y)
    {
        fixed (T* px = x, py = y) Run(px, py, null, x.Length);
    }

    /// <summary>dx from x and dy (both read).</summary>
    public void Backward(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
    {
        fixed (T* px = x, pdy = dy, pdx = dx) Run(px, pdx, pdy, x.Length);
    }

    // Forward when pdy is null.
    private void Run(T* px, T* po, T* pdy, int length)
    {
        int width = GeluKernels.Width<T>(), whole = length / width * width;
        _x = px; _out = po; _dy = pdy;
        _vectors = whole / width;
        int parts = (int)Math.Clamp((long)whole / MinPerPart, 1, Threading.ThreadCount);
        try { WorkerTeam.Run(parts, this); }
        finally { _x = _out = _dy = null; }
        GeluKernels.PaddedTail(Approximate, px + whole, po + whole, pdy is null ? null : pdy + whole, length - whole);
    }

    void IParallelWork.Execute(int part, int parts)
    {
        int width = GeluKernels.Width<T>();
        int start = (int)((long)_vectors * part / parts) * width, end = (int)((long)_vectors * (part + 1) / parts) * width;
        if (end <= start) return;
        if (_dy is null) GeluKernels.ForwardVectors(Approximate, _x + start, _out + start, end - start);
        else GeluKernels.BackwardVectors(Approximate, _x + start, _dy + start, _out + start, end - start);
    }
}
