using ScratchNet.Gpu.Backends;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Gpu;

/// <summary>
/// A <see cref="Network{T}"/>'s layers on a backend: each linear layer with the activation after it fused in,
/// a final softmax fused with cross-entropy. The forward and backward passes are the core's derivations,
/// written once against <see cref="IBackend"/>; the weights stay on the backend across steps and go back to
/// the network's parameters on <see cref="CopyToHost"/>.
/// </summary>
/// <remarks>
/// A step is, per linear layer: forward; then, from the last layer down, the input gradient (with the
/// previous layer's activation derivative) before the SGD step that overwrites the weights it read.
/// The weight gradient is consumed inside the step and never stored.
/// </remarks>
public sealed class DeviceNetwork : IDisposable
{
    private readonly Network<float> _network;
    private readonly Block[] _blocks;
    private readonly DeviceBuffer<float> _gradient, _nextGradient, _rowLoss, _rowCorrect;

    /// <summary>Copies <paramref name="network"/>'s weights to <paramref name="backend"/>, with room for batches of up to <paramref name="maxRows"/> rows.</summary>
    /// <exception cref="DeviceException">The network holds a layer, loss or optimiser this backend path does not run; the message says which.</exception>
    public DeviceNetwork(Network<float> network, IBackend backend, int maxRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRows);
        network.Build();
        _network = network;
        Backend = backend;
        MaxRows = maxRows;
        _blocks = Map(network);
        int widest = _blocks.Max(b => Math.Max(b.Layer.InputSize, b.Layer.OutputSize));
        foreach (var block in _blocks)
        {
            block.Weight = backend.Allocate<float>((long)block.Layer.OutputSize * block.Layer.InputSize);
            block.Bias = backend.Allocate<float>(block.Layer.OutputSize);
            block.Output = backend.Allocate<float>((long)maxRows * block.Layer.OutputSize);
        }
        _gradient = backend.Allocate<float>((long)maxRows * widest);
        _nextGradient = backend.Allocate<float>((long)maxRows * widest);
        _rowLoss = backend.Allocate<float>(maxRows);
        _rowCorrect = backend.Allocate<float>(maxRows);
        CopyFromHost();
    }

    /// <summary>Where the network runs.</summary>
    public IBackend Backend { get; }

    /// <summary>The most rows a batch may have.</summary>
    public int MaxRows { get; }

    /// <summary>Why <paramref name="network"/> cannot run on a backend, or null when it can.</summary>
    public static string? WhyUnsupported(Network<float> network)
    {
        try
        {
            network.Build();
            Map(network);
            return null;
        }
        catch (DeviceException e)
        {
            return e.Message;
        }
    }

    /// <summary>The output of the last <see cref="Forward"/>, <see cref="TrainStep"/> or <see cref="Evaluate"/>: (rows, outputs), before any final softmax.</summary>
    public DeviceBuffer<float> Output => _blocks[^1].Output!;

    /// <summary>Runs <paramref name="x"/> (rows, inputs) forward; the result is in <see cref="Output"/>.</summary>
    public void Forward(DeviceBuffer<float> x, int rows)
    {
        CheckRows(rows);
        var input = x;
        foreach (var block in _blocks)
        {
            Backend.LinearForward(input, rows, block.Layer.InputSize, block.Weight!, block.Bias!, block.Layer.OutputSize, block.Activation, block.Output!);
            input = block.Output!;
        }
    }

    /// <summary>One SGD step on the batch (<paramref name="x"/>, <paramref name="y"/>) of <paramref name="rows"/> rows, with the network's learning rate and penalty.</summary>
    public void TrainStep(DeviceBuffer<float> x, DeviceBuffer<float> y, int rows)
    {
        if (rows == 0) throw new ArgumentException("A training batch needs at least one row.", nameof(rows));
        Forward(x, rows);
        Loss(y, rows, _gradient);

        float learningRate = (float)_network.LearningRate;
        float regularizedKeep = (float)(1 - 2 * _network.LearningRate * _network.RegularizationFactor);
        var gradient = _gradient;
        var nextGradient = _nextGradient;
        for (int k = _blocks.Length - 1; k >= 0; k--)
        {
            var block = _blocks[k];
            var input = k == 0 ? x : _blocks[k - 1].Output!;
            if (k > 0)
            {
                // Before the step: the input gradient needs the weights this step overwrites.
                Backend.LinearInputGradient(gradient, rows, block.Layer.OutputSize, block.Weight!, block.Layer.InputSize,
                                            _blocks[k - 1].Activation, input, nextGradient);
            }
            Backend.LinearSgdStep(gradient, input, rows, block.Layer.OutputSize, block.Layer.InputSize, block.Weight!, block.Bias!,
                                  learningRate, block.Layer.Weight.Regularized ? regularizedKeep : 1f);
            (gradient, nextGradient) = (nextGradient, gradient);
        }
    }

    /// <summary>
    /// Adds the batch's summed loss to sums[<paramref name="slot"/>] and its count of correct rows to
    /// sums[<paramref name="slot"/> + 1], on the backend (nothing is read back).
    /// </summary>
    public void Evaluate(DeviceBuffer<float> x, DeviceBuffer<float> y, int rows, DeviceBuffer<double> sums, int slot)
    {
        if (rows == 0) return;
        Forward(x, rows);
        Loss(y, rows, gradient: null);
        Backend.AccumulateSum(_rowLoss, rows, sums, slot);
        Backend.AccumulateSum(_rowCorrect, rows, sums, slot + 1);
    }

    /// <summary>Adds Σ W² over the regularised layers to sums[<paramref name="slot"/>] (the penalty is λ times it).</summary>
    public void AccumulateSquaredWeights(DeviceBuffer<double> sums, int slot)
    {
        foreach (var block in _blocks)
            if (block.Layer.Weight.Regularized)
                Backend.AccumulateSquares(block.Weight!, block.Weight!.Length, sums, slot);
    }

    /// <summary>Writes the backend's weights and biases into the network's parameters.</summary>
    public void CopyToHost()
    {
        foreach (var block in _blocks)
        {
            Backend.Download(block.Weight!, block.Layer.Weight.Value.Span);
            Backend.Download(block.Bias!, block.Layer.Bias.Value.Span);
        }
    }

    /// <summary>Sends the network's current weights and biases to the backend.</summary>
    public void CopyFromHost()
    {
        foreach (var block in _blocks)
        {
            Backend.Upload<float>(block.Layer.Weight.Value.Span, block.Weight!);
            Backend.Upload<float>(block.Layer.Bias.Value.Span, block.Bias!);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var block in _blocks)
        {
            block.Weight?.Dispose();
            block.Bias?.Dispose();
            block.Output?.Dispose();
        }
        _gradient.Dispose();
        _nextGradient.Dispose();
        _rowLoss.Dispose();
        _rowCorrect.Dispose();
    }

    private void Loss(DeviceBuffer<float> y, int rows, DeviceBuffer<float>? gradient)
    {
        var last = _blocks[^1];
        float scale = 1f / rows;
        if (_network.Loss == Losses.Loss.CrossEntropy)
            Backend.SoftmaxCrossEntropy(last.Output!, y, rows, last.Layer.OutputSize, last.Activation, scale, gradient, _rowLoss, _rowCorrect);
        else
            Backend.SquaredError(last.Output!, y, rows, last.Layer.OutputSize, last.Activation, scale, gradient, _rowLoss, _rowCorrect);
    }

    private void CheckRows(int rows)
    {
        if ((uint)rows > (uint)MaxRows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"A batch of {rows} rows; this device network holds at most {MaxRows}.");
    }

    // Groups the layers into linear blocks, or says what cannot run on a backend.
    private static Block[] Map(Network<float> network)
    {
        const string Supported = "supported on a device: linear layers, each optionally followed by relu, sigmoid or tanh, and a final softmax with cross-entropy; plain SGD";
        if (network.Optimizer is not Sgd<float>)
            throw new DeviceException($"The optimiser {network.Optimizer.GetType().Name} does not run on a device ({Supported}).");
        var blocks = new List<Block>();
        var layers = network.Layers;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            DeviceActivation? activation = layer switch
            {
                Relu<float> => DeviceActivation.Relu,
                Sigmoid<float> => DeviceActivation.Sigmoid,
                Tanh<float> => DeviceActivation.Tanh,
                _ => null,
            };
            if (layer is Linear<float> linear)
                blocks.Add(new Block(linear));
            else if (activation is { } fused && blocks.Count > 0 && blocks[^1].Activation == DeviceActivation.None && layers[i - 1] is Linear<float>)
                blocks[^1].Activation = fused;
            else if (layer is Softmax<float> && i == layers.Count - 1 && network.Loss == Losses.Loss.CrossEntropy && blocks.Count > 0)
                continue; // fused into the loss: the last block's output is the logits
            else
                throw new DeviceException($"Layer {i} ({layer.Kind}) cannot run where it is ({Supported}).");
        }
        if (blocks.Count == 0) throw new DeviceException($"The network has no linear layer ({Supported}).");
        return [.. blocks];
    }

    private sealed class Block(Linear<float> layer)
    {
        public Linear<float> Layer { get; } = layer;

        public DeviceActivation Activation { get; set; }

        public DeviceBuffer<float>? Weight { get; set; }

        public DeviceBuffer<float>? Bias { get; set; }

        public DeviceBuffer<float>? Output { get; set; }
    }
}
