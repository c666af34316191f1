using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace ScratchNet.Bench;

/// <summary>
/// The machine's measured peak: GFLOP/s of a tight loop of independent vector FMAs (the widest vector
/// the runtime accelerates), per element type and thread count. Against it each GEMM line states its
/// share of what the cores can do.
/// </summary>
/// <remarks>
/// <see cref="Chains"/> independent accumulators cover FMA latency × FMA ports (4 × 2 on current x86)
/// with room to spare and still fit the 16 registers AVX2 has. acc = acc·x + y with x just below 1
/// stays near y / (1 − x): no overflow, no denormals, and the sum the loop returns keeps it alive.
/// </remarks>
internal static class FmaProbe
{
    public const int Chains = 12;

    /// <summary>The vector the probe runs on ("Vector512", "Vector256", "Vector128").</summary>
    public static string Width => Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : "Vector128";

    /// <summary>
    /// The best of every sample so far, per element type and thread count (1, the bench's threads, every
    /// core). A shared machine only ever takes FMAs away, so each sample can only raise the peak: take
    /// samples between the timed work, then emit.
    /// </summary>
    public sealed class Peaks(int threads)
    {
        private readonly Dictionary<(bool Double, int Threads), double> _best = [];

        public IEnumerable<int> ThreadCounts => new[] { 1, threads, Environment.ProcessorCount }.Distinct().Order();

        /// <summary>The float32 peak at the bench's thread count, which the GEMM lines divide by.</summary>
        public double Single => _best.GetValueOrDefault((false, threads));

        /// <summary>Every type and thread count (<paramref name="all"/>), or only <see cref="Single"/>'s.</summary>
        public void Sample(bool all, int attempts)
        {
            foreach (int count in all ? ThreadCounts : [threads])
            {
                Keep((false, count), Measure<float>(count, attempts));
                if (all) Keep((true, count), Measure<double>(count, attempts));
            }
        }

        /// <summary>One "peak" line per element type and thread count.</summary>
        public void Emit()
        {
            foreach (var ((isDouble, count), value) in _best.OrderBy(p => p.Key.Threads).ThenBy(p => p.Key.Double))
                Report.Emit("peak", $"fma {(isDouble ? "float64" : "float32")} {Width}, {(count == 1 ? "1 thread" : $"{count} threads")}", value,
                    null, null, "GFLOP/s", extra: [new("per_thread", Math.Round(value / count, 1))]);
        }

        private void Keep((bool, int) key, double value) => _best[key] = Math.Max(_best.GetValueOrDefault(key), value);
    }

    /// <summary>Floating-point operations one loop iteration does: <see cref="Chains"/> FMAs of <paramref name="lanes"/> lanes, 2 each.</summary>
    public static long FlopsPerIteration(int lanes) => 2L * Chains * lanes;

    /// <summary>Best GFLOP/s over <paramref name="attempts"/> runs of about <paramref name="seconds"/> each, all <paramref name="threads"/> threads together.</summary>
    public static double Measure<T>(int threads, int attempts = 5, double seconds = 0.2) where T : unmanaged
    {
        // Calibrate on one thread: iterations for `seconds`.
        Loop<T>(1 << 16);
        var calibrate = Stopwatch.StartNew();
        long iterations = 1 << 20;
        while (calibrate.Elapsed.TotalSeconds < 0.02) { Loop<T>(iterations); iterations *= 2; }
        iterations = Math.Max(1 << 20, (long)(iterations / calibrate.Elapsed.TotalSeconds * seconds));

        double best = 0;
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            using var start = new Barrier(threads + 1);
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() => { start.SignalAndWait(); Loop<T>(iterations); })).ToArray();
            foreach (var worker in workers) worker.Start();
            start.SignalAndWait();
            var watch = Stopwatch.StartNew();
            foreach (var worker in workers) worker.Join();
            best = Math.Max(best, threads * iterations * FlopsPerIteration(Lanes<T>()) / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    public static int Lanes<T>() where T : unmanaged =>
        Vector512.IsHardwareAccelerated ? Vector512<T>.Count : Vector256.IsHardwareAccelerated ? Vector256<T>.Count : Vector128<T>.Count;

    /// <summary><paramref name="iterations"/> rounds of <see cref="Chains"/> independent FMAs; returns the sum of all lanes.</summary>
    public static double Loop<T>(long iterations) where T : unmanaged
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double)) throw new NotSupportedException(typeof(T).Name);
        return Vector512.IsHardwareAccelerated ? Loop<Vector512<T>, Fma512<T>>(iterations)
            : Vector256.IsHardwareAccelerated ? Loop<Vector256<T>, Fma256<T>>(iterations)
            : Loop<Vector128<T>, Fma128<T>>(iterations);
    }

    private static double Loop<TVector, TOp>(long iterations) where TVector : struct where TOp : IFma<TVector>
    {
        TVector x = TOp.Create(0.999999), y = TOp.Create(1e-6);
        // One accumulator per chain, each started apart so that no two are the same value.
        TVector c00 = TOp.Create(0.50), c01 = TOp.Create(0.51), c02 = TOp.Create(0.52), c03 = TOp.Create(0.53);
        TVector c04 = TOp.Create(0.54), c05 = TOp.Create(0.55), c06 = TOp.Create(0.56), c07 = TOp.Create(0.57);
        TVector c08 = TOp.Create(0.58), c09 = TOp.Create(0.59), c10 = TOp.Create(0.60), c11 = TOp.Create(0.61);
        for (long i = 0; i < iterations; i++)
        {
            c00 = TOp.Fma(c00, x, y); c01 = TOp.Fma(c01, x, y); c02 = TOp.Fma(c02, x, y); c03 = TOp.Fma(c03, x, y);
            c04 = TOp.Fma(c04, x, y); c05 = TOp.Fma(c05, x, y); c06 = TOp.Fma(c06, x, y); c07 = TOp.Fma(c07, x, y);
            c08 = TOp.Fma(c08, x, y); c09 = TOp.Fma(c09, x, y); c10 = TOp.Fma(c10, x, y); c11 = TOp.Fma(c11, x, y);
        }
        return TOp.Sum(c00) + TOp.Sum(c01) + TOp.Sum(c02) + TOp.Sum(c03) + TOp.Sum(c04) + TOp.Sum(c05)
             + TOp.Sum(c06) + TOp.Sum(c07) + TOp.Sum(c08) + TOp.Sum(c09) + TOp.Sum(c10) + TOp.Sum(c11);
    }

    /// <summary>One vector width's create, fused multiply-add and sum, for float or double lanes.</summary>
    private interface IFma<TVector> where TVector : struct
    {
        static abstract TVector Create(double value);
        static abstract TVector Fma(TVector a, TVector b, TVector c);
        static abstract double Sum(TVector v);
    }

    private readonly struct Fma512<T> : IFma<Vector512<T>> where T : unmanaged
    {
        public static Vector512<T> Create(double value) =>
            typeof(T) == typeof(float) ? Vector512.Create((float)value).As<float, T>() : Vector512.Create(value).As<double, T>();
        public static Vector512<T> Fma(Vector512<T> a, Vector512<T> b, Vector512<T> c) => typeof(T) == typeof(float)
            ? Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        public static double Sum(Vector512<T> v) => typeof(T) == typeof(float) ? Vector512.Sum(v.AsSingle()) : Vector512.Sum(v.AsDouble());
    }

    private readonly struct Fma256<T> : IFma<Vector256<T>> where T : unmanaged
    {
        public static Vector256<T> Create(double value) =>
            typeof(T) == typeof(float) ? Vector256.Create((float)value).As<float, T>() : Vector256.Create(value).As<double, T>();
        public static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c) => typeof(T) == typeof(float)
            ? Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        public static double Sum(Vector256<T> v) => typeof(T) == typeof(float) ? Vector256.Sum(v.AsSingle()) : Vector256.Sum(v.AsDouble());
    }

    private readonly struct Fma128<T> : IFma<Vector128<T>> where T : unmanaged
    {
        public static Vector128<T> Create(double value) =>
            typeof(T) == typeof(float) ? Vector128.Create((float)value).As<float, T>() : Vector128.Create(value).As<double, T>();
        public static Vector128<T> Fma(Vector128<T> a, Vector128<T> b, Vector128<T> c) => typeof(T) == typeof(float)
            ? Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        public static double Sum(Vector128<T> v) => typeof(T) == typeof(float) ? Vector128.Sum(v.AsSingle()) : Vector128.Sum(v.AsDouble());
    }
}
