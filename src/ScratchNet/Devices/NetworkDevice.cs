using System.Numerics;

namespace ScratchNet.Devices;

/// <summary>
/// Where a <see cref="Network{T}"/> computes when it is not on the host: its layers' device halves, its loss and its
/// optimiser, with the weights, buffers and optimiser state kept on the device between steps. A network placed on
/// one (ScratchNet.Gpu's <c>network.MoveTo(device)</c>) runs <see cref="Network{T}.TrainStep"/>,
/// <see cref="Network{T}.ComputeGradients"/>, <see cref="Network{T}.Predict"/> and <c>Evaluate</c>
/// there, so that the one <see cref="Training.Trainer{T}"/> drives either device.
/// </summary>
/// <remarks>
/// The host's parameters, buffers and optimiser state are a copy: the network brings it up to date
/// (<see cref="CopyToHost"/>) before anything on the host reads it — saving, snapshots, checkpoints — and sends it
/// back (<see cref="CopyFromHost"/>) after the host has written it — restoring a snapshot, resuming, loading a state
/// dict. Batches arrive as host matrices, so every sample source (augmentation included) feeds a device.
/// </remarks>
public abstract class NetworkDevice<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>What runs the network, for messages: e.g. "cuda: NVIDIA H200 (sm_90, 139 GiB)".</summary>
    public abstract string Name { get; }

    /// <summary>The most steps <see cref="QueueTrainStep"/> may queue before <see cref="TakeQueuedLosses"/>.</summary>
    public const int QueueCapacity = 64;

    /// <summary>
    /// Queues forward, loss, backward and L2 gradient on the batch, then the network's optimiser step, without waiting
    /// for the device: the step's loss (mean loss plus the penalty at the weights before the step, as the host's
    /// <see cref="Network{T}.TrainStep"/> returns) is kept on the device until <see cref="TakeQueuedLosses"/>.
    /// </summary>
    protected internal abstract void QueueTrainStep(Matrix<T> x, Matrix<T> y);

    /// <summary>Steps queued since the last <see cref="TakeQueuedLosses"/>.</summary>
    protected internal abstract int QueuedSteps { get; }

    /// <summary>Waits for the device and writes the queued steps' losses, in order, into <paramref name="losses"/> (of <see cref="QueuedSteps"/> elements).</summary>
    protected internal abstract void TakeQueuedLosses(Span<double> losses);

    /// <summary>
    /// Forward, loss, backward and L2 gradient, the parameter gradients copied into the host's flat buffer
    /// (<see cref="Network{T}.Gradients"/>) and dL/dx into <paramref name="inputGradient"/>; returns mean loss plus penalty.
    /// </summary>
    protected internal abstract double ComputeGradients(Matrix<T> x, Matrix<T> y, Matrix<T> inputGradient);

    /// <summary>
    /// Sends the host's flat gradient buffer (<see cref="Network{T}.Gradients"/>, as an accumulation or a reduction across
    /// processes left it after <see cref="ComputeGradients"/>) to the device and queues the optimiser's step from it there.
    /// </summary>
    protected internal abstract void StepFromHostGradients();

    /// <summary>Inference on <paramref name="x"/>, every layer included, into <paramref name="output"/> (x's rows, the network's outputs).</summary>
    protected internal abstract void Predict(Matrix<T> x, Matrix<T> output);

    /// <summary>Starts summing a loss and a count of correct rows on the device.</summary>
    protected internal abstract void BeginEvaluation();

    /// <summary>Adds the batch's summed loss and correct rows (argmax of prediction = argmax of target) to the sums, in inference mode.</summary>
    protected internal abstract void Evaluate(Matrix<T> x, Matrix<T> y);

    /// <summary>Waits for the sums: the loss summed over the rows evaluated since <see cref="BeginEvaluation"/>, and the correct rows.</summary>
    protected internal abstract (double LossSum, long Correct) EndEvaluation();

    /// <summary>Σ W² over the regularised parameters, at the device's weights.</summary>
    protected internal abstract double SquaredRegularizedWeights();

    /// <summary>Writes the device's parameters, buffers and optimiser state into the host's.</summary>
    protected internal abstract void CopyToHost();

    /// <summary>Sends the host's parameters, buffers and optimiser state to the device.</summary>
    protected internal abstract void CopyFromHost();

    /// <summary>Releases the device memory.</summary>
    public abstract void Dispose();
}
