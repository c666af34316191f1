namespace ScratchNet.Gpu.Backends;

/// <summary>The element-wise function a linear layer's output passes through, fused into the layer's kernels.</summary>
public enum DeviceActivation
{
    /// <summary>The identity.</summary>
    None = 0,

    /// <summary>max(0, z).</summary>
    Relu = 1,

    /// <summary>1 / (1 + e^−z).</summary>
    Sigmoid = 2,

    /// <summary>tanh z.</summary>
    Tanh = 3,
}

/// <summary>
/// The operations a network's training step is made of, over memory that lives where the backend
/// computes. <see cref="CpuBackend"/> runs them on the host with the core's kernels;
/// <see cref="IlgpuBackend"/> runs the same operations as GPU kernels (or, on its CPU accelerator, as
/// those kernels emulated). <see cref="DeviceNetwork"/> is written once against this seam.
/// </summary>
/// <remarks>
/// Matrices are row-major, one sample per row; a linear layer's weight is (outputs, inputs), as in the
/// core and in PyTorch. Operations are queued in order and may run asynchronously;
/// <see cref="Download{T}"/> and <see cref="Synchronize"/> wait for everything queued before them.
/// Every reduction sums in a fixed order, so results do not depend on timing.
/// </remarks>
public interface IBackend : IDisposable
{
    /// <summary>What runs the operations, for messages: e.g. "cuda: NVIDIA H200 (sm_90, 139 GiB)".</summary>
    string Name { get; }

    /// <summary>A buffer of <paramref name="length"/> elements, contents undefined.</summary>
    DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged;

    /// <summary>Copies <paramref name="source"/> into <paramref name="target"/> from element <paramref name="offset"/>.</summary>
    void Upload<T>(ReadOnlySpan<T> source, DeviceBuffer<T> target, long offset = 0) where T : unmanaged;

    /// <summary>Waits for the queued work, then copies <paramref name="target"/>.Length elements from <paramref name="offset"/>.</summary>
    void Download<T>(DeviceBuffer<T> source, Span<T> target, long offset = 0) where T : unmanaged;

    /// <summary>Sets every element of <paramref name="buffer"/> to <paramref name="value"/>.</summary>
    void Fill(DeviceBuffer<double> buffer, double value);

    /// <summary>
    /// A batch: for r &lt; <paramref name="rows"/>, row r of <paramref name="x"/> and <paramref name="y"/> is row
    /// <paramref name="order"/>[<paramref name="first"/> + r] of <paramref name="allX"/> and <paramref name="allY"/>.
    /// </summary>
    void GatherBatch(DeviceBuffer<float> allX, int features, DeviceBuffer<float> allY, int targets,
                     DeviceBuffer<int> order, int first, int rows, DeviceBuffer<float> x, DeviceBuffer<float> y);

    /// <summary>output = activation(x · Wᵀ + b): x (rows, inputs), W (outputs, inputs), output (rows, outputs).</summary>
    void LinearForward(DeviceBuffer<float> x, int rows, int inputs, DeviceBuffer<float> weight, DeviceBuffer<float> bias,
                       int outputs, DeviceActivation activation, DeviceBuffer<float> output);

    /// <summary>
    /// The gradient at the layer's input, carried through the activation that produced that input:
    /// dX = (dZ · W) ⊙ f′, where f′ is <paramref name="inputActivation"/>'s derivative written in terms of its
    /// output <paramref name="input"/>. dZ (rows, outputs), W (outputs, inputs), dX (rows, inputs).
    /// </summary>
    void LinearInputGradient(DeviceBuffer<float> outputGradient, int rows, int outputs, DeviceBuffer<float> weight, int inputs,
                             DeviceActivation inputActivation, DeviceBuffer<float> input, DeviceBuffer<float> inputGradient);

    /// <summary>
    /// The SGD step with the weight gradient never stored: W ← keep·W − lr·dZᵀ·x and b ← b − lr·Σ_rows dZ,
    /// where keep = 1 − 2·lr·λ folds in the L2 penalty's gradient (1 for unregularised layers).
    /// </summary>
    void LinearSgdStep(DeviceBuffer<float> outputGradient, DeviceBuffer<float> input, int rows, int outputs, int inputs,
                       DeviceBuffer<float> weight, DeviceBuffer<float> bias, float learningRate, float keep);

    /// <summary>
    /// Softmax cross-entropy from logits, row by row: loss −Σ y·log softmax(z) into <paramref name="rowLoss"/>,
    /// 1 or 0 into <paramref name="rowCorrect"/> (argmax z = argmax y, first index on ties), and, unless
    /// <paramref name="logitGradient"/> is null, (softmax(z)·Σy − y)·f′·<paramref name="gradientScale"/>, where f′ is
    /// the derivative of the activation that produced the logits (1 for none).
    /// </summary>
    void SoftmaxCrossEntropy(DeviceBuffer<float> logits, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation logitActivation, float gradientScale,
                             DeviceBuffer<float>? logitGradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect);

    /// <summary>
    /// The L2 loss Σ (o − y)² per row, the argmax match, and, unless <paramref name="gradient"/> is null, the
    /// gradient before the output's activation: 2·(o − y)·f′(o)·<paramref name="gradientScale"/>.
    /// </summary>
    void SquaredError(DeviceBuffer<float> output, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation outputActivation,
                      float gradientScale, DeviceBuffer<float>? gradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect);

    /// <summary>sums[<paramref name="slot"/>] += Σ values[0..count), summed in double in a fixed order.</summary>
    void AccumulateSum(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot);

    /// <summary>sums[<paramref name="slot"/>] += Σ values[0..count)², summed in double in a fixed order.</summary>
    void AccumulateSquares(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot);

    /// <summary>Waits until everything queued has run.</summary>
    void Synchronize();
}

/// <summary>Memory owned by an <see cref="IBackend"/>: host arrays for the CPU, device memory for a GPU.</summary>
public abstract class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    /// <summary>Elements in the buffer.</summary>
    public abstract long Length { get; }

    /// <summary>Releases the memory.</summary>
    public abstract void Dispose();
}
