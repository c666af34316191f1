using System.Numerics;

namespace ScratchNet.Training;

/// <summary>
/// Weight averaging: every <see cref="Every"/> steps an exponential moving average of the network's state (parameters
/// and batch-norm running estimates) is updated, avg ← d·avg + (1 − d)·w, with d = <see cref="Decay"/> ·
/// (step / totalSteps)^<see cref="Power"/> (0: a constant decay; airbench ramps it with power 3). Plain EMA
/// evaluates with the average after each epoch and leaves it in the network at the end, while training goes on
/// from the live weights. <see cref="Lookahead"/> instead copies the average back into the network after each
/// update (airbench's <c>LookaheadState</c>), so that training continues from it, and puts it into the network again
/// after each epoch's last step (airbench's <c>update(decay=1)</c>): the steps since the last update are dropped. The
/// average starts as the weights at the start of epoch <see cref="StartEpoch"/> (airbench's 3; 0, the default, starts it
/// from the weights training starts with); before that epoch there is no average, and the live weights are evaluated.
/// </summary>
/// <param name="Decay">The decay d (its ceiling when ramped), in [0, 1).</param>
/// <param name="Every">Steps between updates, ≥ 1.</param>
/// <param name="Power">Ramp exponent ≥ 0: d · (step / total)^power.</param>
/// <param name="Lookahead">Copy the average back into the network after each update and after each epoch.</param>
/// <param name="StartEpoch">The epoch (from 0) whose starting weights the average starts as, ≥ 0.</param>
public sealed record WeightAveraging(double Decay, int Every = 1, double Power = 0, bool Lookahead = false, int StartEpoch = 0)
{
    internal void Validate()
    {
        if (!(Decay >= 0 && Decay < 1)) throw new ArgumentOutOfRangeException(nameof(Decay), Decay, "The averaging decay must be in [0, 1).");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Every, nameof(Every));
        if (!(Power >= 0 && double.IsFinite(Power))) throw new ArgumentOutOfRangeException(nameof(Power), Power, "The ramp power must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfNegative(StartEpoch, nameof(StartEpoch));
    }

    /// <summary>The decay of the update after step <paramref name="step"/> (from 0) of <paramref name="totalSteps"/>.</summary>
    public double DecayAt(long step, long totalSteps) => Power == 0 ? Decay : Decay * Math.Pow((double)(step + 1) / totalSteps, Power);
}

/// <summary>The running average of one training run (see <see cref="WeightAveraging"/>); its buffers are allocated once.</summary>
internal sealed class WeightAverager<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Network<T> _network;
    private readonly List<Matrix<T>> _live;          // the network's tensors, snapshot order
    private readonly List<Matrix<T>> _average = [];  // the average, same order
    private readonly NetworkSnapshot<T> _stash;      // the live weights while the average is swapped in
    private bool _started;                           // whether the average exists yet (from StartEpoch on)

    public WeightAverager(Network<T> network, WeightAveraging settings)
    {
        _network = network;
        Settings = settings;
        _live = NetworkSnapshot<T>.Tensors(network);
        foreach (var tensor in _live) _average.Add(new Matrix<T>(tensor.Rows, tensor.Cols));
        _stash = new NetworkSnapshot<T>(network, withOptimizer: false);
    }

    public WeightAveraging Settings { get; }

    /// <summary>Before epoch <paramref name="epoch"/>'s first step: the average starts as the weights, from <see cref="WeightAveraging.StartEpoch"/> on.</summary>
    public void BeginEpoch(int epoch)
    {
        if (_started || epoch < Settings.StartEpoch) return;
        _network.FinishDeferredSteps();
        for (int i = 0; i < _live.Count; i++) _live[i].Span.CopyTo(_average[i].Span);
        _started = true;
    }

    /// <summary>After an epoch's last step: with lookahead, the network takes the average again.</summary>
    public void EndEpoch()
    {
        if (!_started || !Settings.Lookahead) return;
        Install();
    }

    /// <summary>After step <paramref name="step"/> (from 0) of <paramref name="totalSteps"/>: the update when one is due.</summary>
    public void AfterStep(long step, long totalSteps)
    {
        if (!_started || (step + 1) % Settings.Every != 0) return;
        _network.FinishDeferredSteps();
        T decay = T.CreateChecked(Settings.DecayAt(step, totalSteps)), keep = T.One - decay;
        for (int i = 0; i < _live.Count; i++)
        {
            var average = _average[i].Span;
            var live = _live[i].Span;
            for (int j = 0; j < average.Length; j++) average[j] = decay * average[j] + keep * live[j];
            if (Settings.Lookahead) average.CopyTo(live);
        }
        if (Settings.Lookahead) _network.HostStateWritten();   // a network on a device takes the host's weights
    }

    /// <summary>Runs <paramref name="action"/> with the average in the network (plain EMA), then puts the live weights back.</summary>
    public TResult WithAverage<TResult>(Func<TResult> action)
    {
        if (Settings.Lookahead || !_started) return action();   // the network holds the average already, or there is none yet
        _stash.Capture();
        Install();
        try { return action(); }
        finally { _stash.Restore(); }
    }

    /// <summary>Leaves the average in the network, for good (the end of the run).</summary>
    public void Install()
    {
        if (!_started) return;
        _network.FinishDeferredSteps();
        for (int i = 0; i < _live.Count; i++) _average[i].Span.CopyTo(_live[i].Span);
        _network.HostStateWritten();
    }
}
