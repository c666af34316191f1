using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Optimizers;

namespace ScratchNet.Gpu.Optimizers;

/// <summary><see cref="Sgd{T}"/>: p ← p − lr·scale·g.</summary>
internal sealed class SgdDevice<T>(Sgd<T> host, GpuDevice device, ParameterBuffers<T> buffers) : DeviceOptimizer<T>(device, buffers)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Step(ArrayView<T> gradientSquares)
    {
        foreach (var run in Runs)
            Device.Primitives<T>().Axpy(run.Of(Buffers.Gradients), run.Of(Buffers.Values), T.CreateChecked(-host.LearningRate * run.Scale), run.Length);
    }
}

/// <summary>
/// <see cref="SgdMomentum{T}"/>: with decoupled decay p ← p·(1 − lr·λ) first, else g ← g + λ·p; b ← μ·b + g;
/// p ← p − lr·(Nesterov ? g + μ·b : b), lr and λ per parameter group.
/// </summary>
internal sealed class SgdMomentumDevice<T> : DeviceOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SgdMomentum<T> _host;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, MomentumConstants> _kernel;

    public SgdMomentumDevice(SgdMomentum<T> host, GpuDevice device, ParameterBuffers<T> buffers) : base(device, buffers)
    {
        _host = host;
        _kernel = device.Kernel("sgd-momentum", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, MomentumConstants>(Update));
    }

    protected override StatefulOptimizer<T> Stateful => _host;

    public override void Step(ArrayView<T> gradientSquares)
    {
        _host.StepCount++;
        foreach (var run in Runs)
        {
            // As the host: rate = lr·scale and the group's decay in double, then converted.
            double rate = _host.LearningRate * run.Scale, decay = run.Decay ?? _host.WeightDecay;
            bool shrinks = _host.Decoupled && decay != 0;
            var constants = new MomentumConstants(T.CreateChecked(rate), T.CreateChecked(_host.Momentum), _host.Nesterov ? 1 : 0,
                shrinks ? 1 : 0, shrinks ? T.CreateChecked(1 - rate * decay) : T.One, _host.Decoupled ? T.Zero : T.CreateChecked(decay));
            _kernel(checked((int)run.Length), run.Of(Buffers.Values), run.Of(Buffers.Gradients), run.Of(State(0)), constants);
        }
    }

    internal readonly struct MomentumConstants(T rate, T momentum, int nesterov, int shrinks, T shrink, T coupled)
    {
        public readonly T Rate = rate, Momentum = momentum, Shrink = shrink, Coupled = coupled;
        public readonly int Nesterov = nesterov, Shrinks = shrinks;
    }

    private static void Update(Index1D e, ArrayView<T> value, ArrayView<T> gradient, ArrayView<T> buffer, MomentumConstants c)
    {
        T p = value[e];
        if (c.Shrinks != 0) p *= c.Shrink;
        T g = gradient[e] + c.Coupled * p;
        T b = c.Momentum * buffer[e] + g;
        buffer[e] = b;
        value[e] = p - c.Rate * (c.Nesterov != 0 ? g + c.Momentum * b : b);
    }
}

/// <summary><see cref="Adam{T}"/> and <see cref="AdamW{T}"/> (its decay p ← (1 − lr·λ)·p first), with the host's bias corrections.</summary>
internal sealed class AdamDevice<T> : DeviceOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Adam<T> _host;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, AdamConstants> _kernel;

    public AdamDevice(Adam<T> host, GpuDevice device, ParameterBuffers<T> buffers) : base(device, buffers)
    {
        _host = host;
        _kernel = device.Kernel("adam", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, AdamConstants>(Update));
    }

    protected override StatefulOptimizer<T> Stateful => _host;

    public override void Step(ArrayView<T> gradientSquares)
    {
        long t = ++_host.StepCount;
        T stepSize = T.CreateChecked(_host.LearningRate / (1 - Math.Pow(_host.Beta1, t)));
        foreach (var run in Runs)
        {
            // As the host: the step size scaled in the element type, AdamW's factor 1 − lr·scale·λ in double.
            double decay = _host is AdamW<T> w ? 1 - _host.LearningRate * run.Scale * (run.Decay ?? w.WeightDecay) : 1;
            var constants = new AdamConstants(
                T.CreateChecked(_host.Beta1), T.CreateChecked(_host.Beta2), T.CreateChecked(_host.Epsilon),
                run.Scale == 1 ? stepSize : stepSize * T.CreateChecked(run.Scale), T.CreateChecked(Math.Sqrt(1 - Math.Pow(_host.Beta2, t))),
                T.CreateChecked(decay), _host is AdamW<T> ? 1 : 0);
            _kernel(checked((int)run.Length), run.Of(Buffers.Values), run.Of(Buffers.Gradients), run.Of(State(0)), run.Of(State(1)), constants);
        }
    }

    internal readonly struct AdamConstants(T beta1, T beta2, T epsilon, T stepSize, T correction2Root, T decay, int decoupled)
    {
        public readonly T Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon, StepSize = stepSize, Correction2Root = correction2Root, Decay = decay;
        public readonly int Decoupled = decoupled;
    }

    private static void Update(Index1D e, ArrayView<T> value, ArrayView<T> gradient, ArrayView<T> m, ArrayView<T> v, AdamConstants c)
    {
        T p = value[e];
        if (c.Decoupled != 0) p *= c.Decay;
        T g = gradient[e];
        T mj = c.Beta1 * m[e] + (T.One - c.Beta1) * g;
        T vj = c.Beta2 * v[e] + (T.One - c.Beta2) * g * g;
        m[e] = mj;
        v[e] = vj;
        value[e] = p - c.StepSize * mj / (T.Sqrt(vj) / c.Correction2Root + c.Epsilon);
    }
}

/// <summary><see cref="RmsProp{T}"/>: s ← α·s + (1 − α)·g²; u = g/(√s + ε), through momentum when set; p ← p − lr·u.</summary>
internal sealed class RmsPropDevice<T> : DeviceOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RmsProp<T> _host;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T> _kernel;

    public RmsPropDevice(RmsProp<T> host, GpuDevice device, ParameterBuffers<T> buffers) : base(device, buffers)
    {
        _host = host;
        _kernel = device.Kernel("rmsprop", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, T, T, T, T>(Update));
    }

    protected override StatefulOptimizer<T> Stateful => _host;

    public override void Step(ArrayView<T> gradientSquares)
    {
        _host.StepCount++;
        foreach (var run in Runs)
            _kernel(checked((int)run.Length), run.Of(Buffers.Values), run.Of(Buffers.Gradients), run.Of(State(0)), run.Of(State(1)),
                    T.CreateChecked(_host.Alpha), T.CreateChecked(_host.Epsilon), T.CreateChecked(_host.Momentum), T.CreateChecked(_host.LearningRate * run.Scale));
    }

    private static void Update(Index1D e, ArrayView<T> value, ArrayView<T> gradient, ArrayView<T> s, ArrayView<T> buffer, T alpha, T epsilon, T mu, T lr)
    {
        T g = gradient[e];
        T sj = alpha * s[e] + (T.One - alpha) * g * g;
        s[e] = sj;
        T scaled = g / (T.Sqrt(sj) + epsilon);
        if (mu > T.Zero)
        {
            buffer[e] = mu * buffer[e] + scaled;
            scaled = buffer[e];
        }
        value[e] -= lr * scaled;
    }
}

/// <summary>
/// <see cref="ClippedOptimizer{T}"/>: the gradients scaled by max/(‖g‖ + 1e-6) when that is below 1, then the inner
/// optimiser; the factor is computed on the device from Σ g², so that the host need not wait for it.
/// </summary>
internal sealed class ClippedDevice<T> : DeviceOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ClippedOptimizer<T> _host;
    private readonly DeviceOptimizer<T> _inner;
    private readonly Action<Index1D, ArrayView<T>, ArrayView<T>, T, T> _clip;

    public ClippedDevice(ClippedOptimizer<T> host, DeviceOptimizer<T> inner, GpuDevice device, ParameterBuffers<T> buffers) : base(device, buffers)
    {
        _host = host;
        _inner = inner;
        _clip = device.Kernel("clip-by-global-norm", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, T, T>(Clip));
    }

    public override bool NeedsGradientSquares => true;

    public override void Step(ArrayView<T> gradientSquares)
    {
        if (Buffers.Length > 0) _clip(checked((int)Buffers.Length), Buffers.Gradients, gradientSquares, T.CreateChecked(_host.MaxNorm), T.CreateChecked(1e-6));
        _inner.Step(gradientSquares);
    }

    public override void Observe(double gradientSquares) => _host.LastNorm = Math.Sqrt(gradientSquares);

    public override void CopyToHost() => _inner.CopyToHost();

    public override void CopyFromHost() => _inner.CopyFromHost();

    public override void Dispose() => _inner.Dispose();

    private static void Clip(Index1D e, ArrayView<T> gradient, ArrayView<T> squares, T maxNorm, T tiny)
    {
        T scale = maxNorm / (T.Sqrt(squares[0]) + tiny);
        if (scale < T.One) gradient[e] *= scale;
    }
}
