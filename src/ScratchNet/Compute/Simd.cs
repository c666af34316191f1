using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ScratchNet.Compute;

/// <summary>Generic helpers over <see cref="Vector{T}"/> and <see cref="Vector512{T}"/> that the BCL offers only per element type.</summary>
internal static class Simd
{
    /// <summary>x·y + addend with one rounding, per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Fma<T>(Vector<T> x, Vector<T> y, Vector<T> addend) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), addend.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), addend.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>eˣ per lane (the BCL's vectorised exponential).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>x·y + addend with one rounding, per lane, on 512-bit vectors (the AVX-512 tiles and passes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> addend) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), addend.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), addend.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>eˣ per lane on 512-bit vectors (the BCL's vectorised exponential).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.Exp(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Exp(x.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Σ x·y over <paramref name="length"/> elements, four vector accumulators, fused multiply-adds, then a scalar tail.</summary>
    public static unsafe T Dot<T>(T* x, T* y, int length) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, width = Vector<T>.Count;
        T sum = T.Zero;
        if (Vector.IsHardwareAccelerated && length >= width)
        {
            Vector<T> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i <= length - 4 * width; i += 4 * width)
            {
                s0 = Fma(Vector.Load(x + i), Vector.Load(y + i), s0);
                s1 = Fma(Vector.Load(x + i + width), Vector.Load(y + i + width), s1);
                s2 = Fma(Vector.Load(x + i + 2 * width), Vector.Load(y + i + 2 * width), s2);
                s3 = Fma(Vector.Load(x + i + 3 * width), Vector.Load(y + i + 3 * width), s3);
            }
            for (; i <= length - width; i += width) s0 = Fma(Vector.Load(x + i), Vector.Load(y + i), s0);
            sum = Vector.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < length; i++) sum = T.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }
}
