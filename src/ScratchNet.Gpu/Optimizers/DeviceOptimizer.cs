using System.Diagnostics;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using ScratchNet.Optimizers;

namespace ScratchNet.Gpu.Optimizers;

/// <summary>
/// The network's parameters on the device, end to end in <see cref="Parameters"/> order: one buffer of values and
/// one of gradients (as the host's <see cref="Network{T}.Gradients"/>), so that an optimiser steps them all in one kernel.
/// </summary>
internal sealed class ParameterBuffers<T>(IReadOnlyList<ScratchNet.Layers.Parameter<T>> parameters, long[] offsets, MemoryBuffer1D<T, Stride1D.Dense> values,
                                         MemoryBuffer1D<T, Stride1D.Dense> gradients, long length) where T : unmanaged, IFloatingPointIeee754<T>
{
    public IReadOnlyList<ScratchNet.Layers.Parameter<T>> Parameters { get; } = parameters;

    /// <summary>Where parameter i starts in the buffers.</summary>
    public long[] Offsets { get; } = offsets;

    /// <summary>Elements in all parameters together.</summary>
    public long Length { get; } = length;

    public ArrayView<T> Values => values.View.SubView(0, Math.Max(1, Length));

    public ArrayView<T> Gradients => gradients.View.SubView(0, Math.Max(1, Length));

    /// <summary>Parameter <paramref name="i"/>'s part of <paramref name="buffer"/>.</summary>
    public ArrayView<T> Segment(ArrayView<T> buffer, int i) => buffer.SubView(Offsets[i], Parameters[i].Value.Length);
}

/// <summary>
/// An optimiser's device half: the host optimiser keeps its hyperparameters, learning rate (so schedules set it as
/// on the CPU) and step count; the device keeps its state tensors, laid out as the parameters, and steps every
/// parameter in one element-wise kernel. <see cref="CopyToHost"/> fills the host optimiser's
/// <see cref="StatefulOptimizer{T}.State"/> for snapshots and checkpoints.
/// </summary>
internal abstract class DeviceOptimizer<T>(GpuDevice device, ParameterBuffers<T> buffers) : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<MemoryBuffer1D<T, Stride1D.Dense>> _state = [];

    protected GpuDevice Device { get; } = device;

    protected ParameterBuffers<T> Buffers { get; } = buffers;

    /// <summary>Whether <see cref="Step"/> needs Σ g² over every gradient (clipping by the global norm).</summary>
    public virtual bool NeedsGradientSquares => false;

    /// <summary>
    /// Queues the update of every parameter from its gradient; <paramref name="gradientSquares"/> holds Σ g² (one
    /// element, on the device) when <see cref="NeedsGradientSquares"/>.
    /// </summary>
    public abstract void Step(ArrayView<T> gradientSquares);

    /// <summary>Tells the host optimiser what the last step saw, once the host has read it: Σ g² over every gradient.</summary>
    public virtual void Observe(double gradientSquares) { }

    /// <summary>The host optimiser whose state this half keeps, or null for a stateless one.</summary>
    protected virtual StatefulOptimizer<T>? Stateful => null;

    private ParameterRun[]? _runs;
    private (double Scale, double? Decay, bool Frozen)[] _groupOf = [];   // each parameter's settings when _runs was made

    /// <summary>
    /// The parameters as runs of neighbours that share a learning-rate scale and a weight decay (PyTorch's parameter
    /// groups; one run when none sets its own): each run is one kernel launch, with the constants computed on the host
    /// in double as the host optimiser computes them. A <see cref="ScratchNet.Layers.Parameter{T}.Frozen"/> parameter is
    /// in no run. Made again only when a parameter's settings changed.
    /// </summary>
    protected ReadOnlySpan<ParameterRun> Runs
    {
        get
        {
            var parameters = Buffers.Parameters;
            bool current = _runs is not null;
            for (int i = 0; i < parameters.Count && current; i++)
                current = _groupOf[i] == (parameters[i].LearningRateScale, parameters[i].WeightDecay, parameters[i].Frozen);
            if (!current)
            {
                _groupOf = [.. parameters.Select(p => (p.LearningRateScale, p.WeightDecay, p.Frozen))];
                _runs = MakeRuns();
            }
            return _runs;
        }
    }

    private ParameterRun[] MakeRuns()
    {
        var runs = new List<ParameterRun>();
        var parameters = Buffers.Parameters;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            long length = p.Value.Length;
            if (p.Frozen) continue;   // no step for it, and the runs either side of it stay apart
            if (runs.Count > 0 && runs[^1].Offset + runs[^1].Length == Buffers.Offsets[i] && runs[^1].Scale == p.LearningRateScale && runs[^1].Decay == p.WeightDecay)
                runs[^1] = runs[^1] with { Length = runs[^1].Length + length };
            else
                runs.Add(new ParameterRun(Buffers.Offsets[i], length, p.LearningRateScale, p.WeightDecay));
        }
        return [.. runs.Where(r => r.Length > 0)];
    }

    /// <summary>
    /// Zeroes the device gradients of the frozen parameters, so that Σ g² for clipping leaves them out as the host's
    /// <see cref="GradientClipping.ClipByGlobalNorm"/> does.
    /// </summary>
    public void ClearFrozenGradients()
    {
        var parameters = Buffers.Parameters;
        for (int i = 0; i < parameters.Count; i++)
            if (parameters[i].Frozen && parameters[i].Value.Length > 0) Buffers.Segment(Buffers.Gradients, i).MemSetToZero();
    }

    /// <summary>State tensor <paramref name="k"/> of every parameter, end to end.</summary>
    protected ArrayView<T> State(int k) => _state[k].View.SubView(0, Math.Max(1, Buffers.Length));

    /// <summary>Writes the device state into the host optimiser's.</summary>
    public virtual void CopyToHost()
    {
        if (Stateful is not { } host) return;
        host.Initialize(Buffers.Parameters);
        for (int i = 0; i < Buffers.Parameters.Count; i++)
            for (int k = 0; k < host.StatePerParameter; k++)
                Buffers.Segment(State(k), i).CopyToCPU(host.State[i * host.StatePerParameter + k].Span);
    }

    /// <summary>Takes the host optimiser's state (zero when it has none yet).</summary>
    public virtual void CopyFromHost()
    {
        if (Stateful is not { } host) return;
        while (_state.Count < host.StatePerParameter) _state.Add(Device.Allocate<T>(Buffers.Length));
        if (host.State.Count == 0)
        {
            foreach (var state in _state) state.MemSetToZero();
            return;
        }
        for (int i = 0; i < Buffers.Parameters.Count; i++)
            for (int k = 0; k < host.StatePerParameter; k++)
                Buffers.Segment(State(k), i).CopyFromCPU(host.State[i * host.StatePerParameter + k].Span);
    }

    public virtual void Dispose()
    {
        foreach (var state in _state) state.Dispose();
    }

    /// <summary>Whether <paramref name="optimizer"/> (and any optimiser inside it) has a device half.</summary>
    public static bool HasHalf(IOptimizer<T> optimizer) => optimizer switch
    {
        Sgd<T> or Adam<T> or RmsProp<T> => true,
        SgdMomentum<T> => true,
        ClippedOptimizer<T> clipped => HasHalf(clipped.Inner),
        _ => false,
    };

    /// <summary>The device half of <paramref name="optimizer"/>, holding its current state.</summary>
    /// <exception cref="DeviceException">An optimiser type without a device half.</exception>
    public static DeviceOptimizer<T> Create(IOptimizer<T> optimizer, GpuDevice device, ParameterBuffers<T> buffers)
    {
        if (!HasHalf(optimizer))
            throw new DeviceException($"the optimiser {optimizer.GetType().Name.Split('`')[0]} (with these settings) has no device half: it runs on the CPU only");
        DeviceOptimizer<T> half = optimizer switch
        {
            Sgd<T> sgd => new SgdDevice<T>(sgd, device, buffers),
            SgdMomentum<T> momentum => new SgdMomentumDevice<T>(momentum, device, buffers),
            Adam<T> adam => new AdamDevice<T>(adam, device, buffers),
            RmsProp<T> rmsProp => new RmsPropDevice<T>(rmsProp, device, buffers),
            ClippedOptimizer<T> clipped => new ClippedDevice<T>(clipped, Create(clipped.Inner, device, buffers), device, buffers),
            _ => throw new UnreachableException(),
        };
        half.CopyFromHost();
        return half;
    }
}

/// <summary>Neighbouring parameters stepped by one kernel launch: where they start and end in the flat buffers, their learning-rate scale and own weight decay.</summary>
internal readonly record struct ParameterRun(long Offset, long Length, double Scale, double? Decay)
{
    /// <summary>The run's part of <paramref name="buffer"/>.</summary>
    public ArrayView<T> Of<T>(ArrayView<T> buffer) where T : unmanaged => buffer.SubView(Offset, Length);
}
