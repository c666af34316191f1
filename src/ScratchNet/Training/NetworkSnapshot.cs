using System.Numerics;
using ScratchNet.Layers;
using ScratchNet.Optimizers;

namespace ScratchNet.Training;

/// <summary>
/// A copy of a network's trainable state: every parameter's value and every batch norm's running
/// estimates, in a fixed order (<see cref="Tensors"/>), and optionally the optimiser's state. Buffers are
/// allocated on the first <see cref="Capture"/> and reused after.
/// </summary>
internal sealed class NetworkSnapshot<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Network<T> _network;
    private readonly bool _withOptimizer;
    private readonly List<Matrix<T>> _copies = [];
    private readonly List<Matrix<T>> _optimizerCopies = [];
    private long _stepCount;

    public NetworkSnapshot(Network<T> network, bool withOptimizer)
    {
        _network = network;
        _withOptimizer = withOptimizer;
    }

    /// <summary>Whether <see cref="Capture"/> has run.</summary>
    public bool Taken { get; private set; }

    /// <summary>
    /// The network's live tensors in snapshot order: parameter values, then every layer's buffers (e.g. a batch
    /// norm's running mean and variance), both in state-dict order, as they
    /// stand: a deferred SGD step is left to the fused pass that will apply it (a capture mid-epoch after a resume
    /// then holds the weights one step earlier).
    /// </summary>
    public static List<Matrix<T>> Tensors(Network<T> network)
    {
        var tensors = new List<Matrix<T>>();
        foreach (var parameter in network.Parameters) tensors.Add(parameter.Value);
        tensors.AddRange(ModuleState.Buffers(network.Layers));
        return tensors;
    }

    /// <summary>The copies, in <see cref="Tensors"/> order (valid once <see cref="Taken"/>).</summary>
    public IReadOnlyList<Matrix<T>> Copies => _copies;

    public void Capture()
    {
        _network.SyncHost();
        Copy(Tensors(_network), _copies);
        if (_withOptimizer && LearningRates.StatefulOf(_network.Optimizer) is { } optimizer)
        {
            Copy(optimizer.State, _optimizerCopies);
            _stepCount = optimizer.StepCount;
        }
        Taken = true;
    }

    public void Restore()
    {
        if (!Taken) throw new InvalidOperationException("No snapshot has been taken.");
        _network.FinishDeferredSteps();   // the copies replace the weights: no update may land on them afterwards
        var live = Tensors(_network);
        for (int i = 0; i < live.Count; i++) _copies[i].Span.CopyTo(live[i].Span);
        if (_withOptimizer && LearningRates.StatefulOf(_network.Optimizer) is { } optimizer && optimizer.State.Count > 0)
        {
            if (_optimizerCopies.Count == optimizer.State.Count)
            {
                optimizer.LoadState(_network.Parameters, _optimizerCopies, _stepCount);
            }
            else
            {
                // Captured before the first step: back to fresh state.
                foreach (var state in optimizer.State) state.Span.Clear();
                optimizer.StepCount = 0;
            }
        }
        _network.HostStateWritten();
    }

    /// <summary>Loads <paramref name="copies"/> (e.g. from a checkpoint) as the snapshot.</summary>
    public void Set(IReadOnlyList<Matrix<T>> copies)
    {
        _copies.Clear();
        _copies.AddRange(copies);
        Taken = true;
    }

    private static void Copy(IReadOnlyList<Matrix<T>> source, List<Matrix<T>> copies)
    {
        if (copies.Count != source.Count)
        {
            copies.Clear();
            for (int i = 0; i < source.Count; i++) copies.Add(new Matrix<T>(source[i].Rows, source[i].Cols));
        }
        for (int i = 0; i < source.Count; i++) source[i].Span.CopyTo(copies[i].Span);
    }
}
