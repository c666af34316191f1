using System.Numerics;
using System.Numerics.Tensors;
using ScratchNet.Data;
using ScratchNet.Devices;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Persistence;
using ScratchNet.Regularization;

namespace ScratchNet;

/// <summary>
/// A sequential network in the report's style: declare inputs, outputs, loss, regularisation and
/// learning rate, then add layers; each layer's width is inferred from the one before. The element
/// type <typeparamref name="T"/> (<c>float</c> or <c>double</c>) is the report's <c>dtype</c>.
/// </summary>
/// <example>
/// The report's Fashion-MNIST network:
/// <code>
/// var net = new Network&lt;float&gt;(784, 10, Loss.CrossEntropy, regularizationFactor: 1e-5, learningRate: 1e-3);
/// net.AddLinear(800, w: 0.001, regularization: true); net.AddRelu();
/// net.AddLinear(300, w: 0.0025, regularization: true); net.AddRelu();
/// net.AddLinear(10, w: 0.03, regularization: true); net.AddSoftmax();
/// </code>
/// </example>
public sealed partial class Network<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int EvaluationChunk = 1024;

    private readonly List<Layer<T>> _layers = [];
    private readonly List<Parameter<T>> _parameters = [];
    private readonly List<string> _warnings = [];
    private readonly GradientTape<T> _tape = new();
    private readonly Rng _rng;
    private readonly double _learningRate;
    private readonly LossFunction<T> _loss;
    private readonly L2Regularization<T> _regularization;
    private readonly SgdStep<T> _step = new();
    private bool _built;
    private bool _training; // the mode last set on the layers (see SetTraining)
    private bool _gradientsHeld; // ComputeGradients left gradients that the fused SGD step must not add to
    private T[] _gradients = [];  // every parameter's gradient, in parameter order: one buffer for one all-reduce
    private int[] _firstParameter = [0];   // per layer, its first parameter's index (one more entry: the count)
    private int[] _firstGradient = [0];    // per layer, where its parameters' gradients start in _gradients
    private Action<int>? _layerDone;       // the tape's callback (cached: a step allocates nothing)
    private Action<int, int>? _gradientsReady;   // ComputeGradients' caller's, during the call
    private NetworkDevice<T>? _device;  // where the network computes, when not on the host
    private bool _hostStale;            // the device has stepped since the host's copy was last brought up to date
    private bool _hostQueued;           // QueueTrainStep ran on the host: its loss waits in _hostLoss
    private double _hostLoss;
    private Matrix<T> _deviceInputGradient = new(0, 0), _devicePrediction = new(0, 0);

    /// <summary>Declares a network of <paramref name="inputs"/> features in and <paramref name="outputs"/> out.</summary>
    /// <param name="inputs">Features per sample.</param>
    /// <param name="outputs">Width the last layer must have (classes, or regression targets).</param>
    /// <param name="loss">The training loss; <see cref="Loss.CrossEntropy"/> needs a final softmax layer.</param>
    /// <param name="regularizationFactor">λ of the penalty λ·Σ W² over layers added with <c>regularization: true</c>.</param>
    /// <param name="learningRate">SGD step size.</param>
    /// <param name="seed">Seeds the generator that draws generated weights.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the factor is negative, or the rate is not positive.</exception>
    public Network(int inputs, int outputs, Loss loss = Loss.L2, double regularizationFactor = 0, double learningRate = 0.001, ulong seed = 0)
        : this(new Shape(Positive(inputs, nameof(inputs))), outputs, loss, regularizationFactor, learningRate, seed)
    {
    }

    /// <summary>
    /// Declares a network whose samples have <paramref name="inputShape"/>, e.g. (3, 32, 32) for CIFAR-10 images
    /// (stored as rows of C·H·W values, NCHW), and <paramref name="outputs"/> outputs.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The output count is not positive, the factor is negative, or the rate is not positive.</exception>
    public Network(Shape inputShape, int outputs, Loss loss = Loss.L2, double regularizationFactor = 0, double learningRate = 0.001, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        Inputs = inputShape.Size;
        InputShape = inputShape;
        Outputs = outputs;
        Loss = loss;
        _loss = LossFunction<T>.Create(loss);
        _regularization = new L2Regularization<T>(regularizationFactor);
        Optimizer = new Sgd<T>(learningRate);
        _learningRate = learningRate;
        _rng = new Rng(seed);
    }

    /// <summary>
    /// Writes the network to <paramref name="path"/> as a safetensors file (atomically: a reader sees the old
    /// file or the new one): weights as <c>{i}.weight</c> (out, in) and <c>{i}.bias</c> (out), i the layer's
    /// index as in PyTorch's <c>nn.Sequential</c> (a batch norm's also <c>{i}.running_mean</c> and <c>{i}.running_var</c>), and the architecture, loss, λ, learning rate and dtype in
    /// <c>__metadata__</c>. Optimiser state and seeds are not saved.
    /// </summary>
    /// <exception cref="NetworkBuildException">The network does not build.</exception>
    /// <exception cref="NotSupportedException">A layer type the file format does not cover (a custom layer).</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public void Save(string path)
    {
        FinishDeferredSteps();
        ModelFile.Save(this, path);
    }

    /// <summary>
    /// As <see cref="Save(string)"/>, and adds <paramref name="metadata"/> to the file's <c>__metadata__</c>
    /// (what a tool wants to find again, e.g. the dataset trained on); <see cref="ReadMetadata"/> returns it.
    /// </summary>
    /// <exception cref="ArgumentException">A key is one the format uses for the architecture (<c>inputs</c>, <c>layers</c>, …).</exception>
    public void Save(string path, IReadOnlyDictionary<string, string> metadata)
    {
        FinishDeferredSteps();
        ModelFile.Save(this, path, metadata);
    }

    /// <summary>As <see cref="Save(string)"/>, written to <paramref name="stream"/> from its current position; the stream is left open.</summary>
    /// <exception cref="NetworkBuildException">The network does not build.</exception>
    /// <exception cref="NotSupportedException">A layer type the file format does not cover.</exception>
    public void Save(Stream stream)
    {
        FinishDeferredSteps();
        ModelFile.Save(this, stream);
    }

    /// <summary>The <c>__metadata__</c> of a model file (the architecture's entries and any added by <see cref="Save(string, IReadOnlyDictionary{string, string})"/>), without reading the weights.</summary>
    /// <exception cref="ModelFormatException">The header is malformed.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => ModelFile.ReadMetadata(path);

    /// <summary>
    /// Rebuilds a network from a file written by <see cref="Save(string)"/>. A float32 file loads into
    /// <c>Network&lt;double&gt;</c> exactly and a float64 file into <c>Network&lt;float&gt;</c> rounded to nearest.
    /// The header is checked in full (length, JSON, dtypes, byte ranges, shapes against the architecture)
    /// before any tensor is read.
    /// </summary>
    /// <exception cref="ModelFormatException">The file is malformed or its architecture is not buildable; the message names the file and the fault.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static Network<T> Load(string path) => ModelFile.Load<T>(path);

    /// <summary>As <see cref="Load(string)"/>, from a stream at the start of a model file (e.g. an upload, or a resource); the stream is left open.</summary>
    /// <exception cref="ModelFormatException">The data is malformed; the message names <paramref name="name"/>.</exception>
    /// <exception cref="ArgumentException">A seekable stream is not at position 0.</exception>
    public static Network<T> Load(Stream stream, string name = "stream") => ModelFile.Load<T>(stream, name);

    /// <summary>The learning rate: the optimiser's if it is SGD, else the constructor's.</summary>
    public double LearningRate => Optimizer is Sgd<T> sgd ? sgd.LearningRate : _learningRate;

    /// <summary>Features per input sample.</summary>
    public int Inputs { get; }

    /// <summary>Width of the network's output.</summary>
    public int Outputs { get; }

    /// <summary>The training loss.</summary>
    public Loss Loss { get; }

    /// <summary>
    /// Label smoothing ε of the cross-entropy (PyTorch's <c>label_smoothing</c>): training and the losses the network
    /// reports use targets (1 − ε)·y + ε/k; accuracy is unaffected. 0 by default; not saved in model files.
    /// </summary>
    /// <exception cref="NotSupportedException">Set on a network whose loss is not cross-entropy.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside [0, 1).</exception>
    public double LabelSmoothing
    {
        get => _loss is SoftmaxCrossEntropy<T> ce ? ce.LabelSmoothing : 0;
        set
        {
            if (_loss is SoftmaxCrossEntropy<T> ce) ce.LabelSmoothing = value;
            else if (value != 0) throw new NotSupportedException("Label smoothing applies to the cross-entropy loss only.");
        }
    }

    /// <summary>λ of the L2 weight penalty.</summary>
    public double RegularizationFactor => _regularization.Factor;

    /// <summary>The optimiser <see cref="TrainStep"/> applies; plain SGD at the constructor's learning rate unless replaced.</summary>
    public IOptimizer<T> Optimizer { get; set; }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Layer<T>> Layers => _layers;

    /// <summary>Every trainable parameter, layer by layer.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>Problems <see cref="Build"/> found that do not stop training (e.g. a softmax feeding an L2 loss).</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>The width the next layer will read: the last layer's output size, or <see cref="Inputs"/>.</summary>
    public int CurrentWidth => CurrentShape.Size;

    /// <summary>The per-sample shape the next layer will read: the last layer's output shape, or the input's.</summary>
    public Shape CurrentShape => _layers.Count == 0 ? InputShape : _layers[^1].OutputShape;

    /// <summary>The per-sample shape of the input: (<see cref="Inputs"/>), or the shape the network was declared with.</summary>
    public Shape InputShape { get; }

    /// <summary>
    /// The report's <c>add_linear_generated</c>: a fully connected layer of <paramref name="numNodes"/> outputs with
    /// weights <paramref name="wo"/> + <paramref name="w"/>·N(0,1) and biases <paramref name="bo"/> + <paramref name="b"/>·N(0,1).
    /// </summary>
    public Linear<T> AddLinear(int numNodes, double w, double wo = 0, double b = 0, double bo = 0, bool regularization = false) =>
        Add(Linear<T>.Generate(CurrentWidth, numNodes, w, wo, b, bo, regularization, _rng));

    /// <summary>A fully connected layer with He-normal weights, N(0, 2/fan_in), and zero biases: the usual start before a ReLU.</summary>
    public Linear<T> AddLinear(int numNodes, bool regularization = false) =>
        AddLinear(numNodes, w: HeScale(CurrentWidth), regularization: regularization);

    /// <summary>
    /// A fully connected layer of <paramref name="numNodes"/> outputs whose weights <paramref name="init"/> draws
    /// (Xavier/Glorot or He/Kaiming, normal or uniform; see <see cref="Init"/>) from the network's seeded
    /// generator, and zero biases; with <paramref name="bias"/> false, none (<c>nn.Linear(…, bias=False)</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numNodes"/> is not positive or <paramref name="init"/> is not defined.</exception>
    public Linear<T> AddLinear(int numNodes, Init init, bool regularization = false, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numNodes);
        var weight = new Matrix<T>(numNodes, CurrentWidth);                       // (out, in)
        Initializers.Fill(weight.Span, init, CurrentWidth, numNodes, _rng);
        return Add(new Linear<T>(weight, bias ? new Matrix<T>(1, numNodes) : null, regularization));
    }

    /// <summary>Adds a ReLU.</summary>
    public Relu<T> AddRelu() => Add(new Relu<T>(CurrentShape));

    /// <summary>Adds a softmax; with <see cref="Loss.CrossEntropy"/> it must come last, where it is fused into the loss.</summary>
    public Softmax<T> AddSoftmax() => Add(new Softmax<T>(CurrentShape));

    /// <summary>
    /// Adds inverted dropout of probability <paramref name="rate"/> (active only in training); its mask
    /// generator is seeded from the network's generator, so a run is reproducible from the network's seed.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is outside [0, 1).</exception>
    public Dropout<T> AddDropout(double rate) => Add(new Dropout<T>(CurrentShape, rate, _rng.NextUInt64()));

    /// <summary>Adds batch normalisation over the current width (γ = 1, β = 0, PyTorch's defaults for momentum and ε).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="momentum"/> is outside [0, 1] or <paramref name="epsilon"/> is not positive.</exception>
    public BatchNorm1d<T> AddBatchNorm(double momentum = 0.1, double epsilon = 1e-5) => Add(new BatchNorm1d<T>(CurrentWidth, momentum, epsilon));

    /// <summary>Adds any layer (a <see cref="Sequential{T}"/> or <see cref="Residual{T}"/> block too); its input shape must be <see cref="CurrentShape"/>.</summary>
    /// <exception cref="NetworkBuildException">The layer's input shape does not fit; the message names the layers and both shapes.</exception>
    public TLayer Add<TLayer>(TLayer layer) where TLayer : Layer<T>
    {
        if (_device is not null) throw new InvalidOperationException($"The network is on {_device.Name}: move it back to the host (MoveToHost) before adding layers.");
        if (layer.InputShape != CurrentShape)
        {
            string source = _layers.Count == 0 ? $"the network's {Describe(InputShape, "inputs")}" : $"layer #{_layers.Count - 1} {_layers[^1]}, which outputs {Describe(CurrentShape)}";
            throw new NetworkBuildException($"Layer #{_layers.Count} {layer} reads {Describe(layer.InputShape, "features")}, but it follows {source}.");
        }
        layer.Training = _training;
        _layers.Add(layer);
        _parameters.AddRange(ModuleState.Parameters<T>([layer]));
        BindGradients();
        _built = false;
        return layer;
    }

    /// <summary>
    /// Checks the layers against the declared outputs and loss; called by every method that runs the
    /// network, so calling it yourself only moves the error earlier.
    /// </summary>
    /// <exception cref="NetworkBuildException">No layers, a last width other than <see cref="Outputs"/>, or cross-entropy without a final softmax.</exception>
    public void Build()
    {
        if (_built) return;
        if (_layers.Count == 0)
            throw new NetworkBuildException("The network has no layers: add at least one (e.g. AddLinear).");
        if (CurrentWidth != Outputs)
        {
            int widthSetter = _layers.FindLastIndex(l => l.InputSize != l.OutputSize);
            string culprit = widthSetter < 0 ? "no layer changes the width" : $"layer #{widthSetter} {_layers[widthSetter]} sets it";
            throw new NetworkBuildException(
                $"The last layer, #{_layers.Count - 1} {_layers[^1]}, outputs {CurrentWidth} features but the network declares {Outputs} outputs ({culprit}).");
        }
        if (Loss == Loss.CrossEntropy && _layers[^1] is not Softmax<T>)
            throw new NetworkBuildException(
                $"Cross-entropy needs the network to end with a softmax (AddSoftmax()); its last layer is #{_layers.Count - 1} {_layers[^1]}.");
        _warnings.Clear();
        if (Loss == Loss.L2 && _layers[^1] is Softmax<T>)
            _warnings.Add("A softmax feeds the L2 loss: its outputs are squashed into (0, 1) and learn slowly; the report removes it for L2 tasks.");
        HandActivationsToLayersBefore();
        ShareBuffers();
        _built = true;
    }

    // Before ShareBuffers: the flags it reads change.
    private void HandActivationsToLayersBefore() => PairActivations(_layers);

    /// <summary>
    /// Lets each layer of <paramref name="chain"/> that can apply the activation after it in its own pass (batch norm: GELU,
    /// ReLU) take it; the activation then hands its input and gradient on. One pass over the tensor fewer in each
    /// direction, and one buffer fewer; the values are those of the two layers apart, bit for bit. A network does this
    /// when it builds (the bench's per-layer timing too, to time the pairs as a step runs them).
    /// </summary>
    internal static void PairActivations(IReadOnlyList<Layer<T>> chain)
    {
        for (int i = 0; i + 1 < chain.Count; i++)
            if (chain[i + 1] is Activation<T> { AppliedByLayerBefore: false } activation && chain[i].TakeActivation(activation))
                activation.HandToLayerBefore();
    }

    // The chain's input gradients take turns in two buffers: the gradient a layer returns is read by the layer before it and is
    // dead once that one has run, so each layer writes into the buffer its incoming gradient is not in. A layer that passes on
    // what it was given (flatten) or a child's keeps the incoming buffer where it was; layer 0's gradient stays its own, as
    // ComputeGradients returns it. A CNN's backward then holds two activations' worth of gradients instead of one per layer.
    // The same two buffers are free during the forward pass: an output that neither its layer's backward nor the next layer's
    // reads (a convolution's, feeding a max-pool) is dead once the next layer has run, and goes in buffer i mod 2, so that
    // consecutive such outputs never overlap. The last layer's output is the loss's input and stays its own.
    private void ShareBuffers()
    {
        SharedStorage<T>[] turns = [new(), new()];
        int incoming = -1;   // the turn the gradient reaching layer i is in; -1: the loss's buffer or a layer's own
        for (int i = _layers.Count - 1; i >= 0; i--)
        {
            var layer = _layers[i];
            bool scratch = i + 1 < _layers.Count && layer.ForwardReturnsOutput && !layer.BackwardReadsOutput && !_layers[i + 1].BackwardReadsInput;
            layer.ShareOutput(scratch ? turns[i % 2] : null);
            if (i == 0 || !layer.BackwardReturnsInputGradient)
            {
                layer.ShareInputGradient(null);
                if (layer.BackwardReturnsInputGradient) incoming = -1;
                continue;
            }
            int turn = incoming == 0 ? 1 : 0;
            layer.ShareInputGradient(turns[turn]);
            incoming = turn;
        }
    }

    /// <summary>The network's outputs, (rows, <see cref="Outputs"/>), for <paramref name="x"/>, (rows, <see cref="Inputs"/>).</summary>
    /// <exception cref="ShapeMismatchException"><paramref name="x"/> does not have <see cref="Inputs"/> columns.</exception>
    public Matrix<T> Predict(Matrix<T> x)
    {
        Build();
        FinishDeferredSteps();
        x.RequireCols(Inputs, "Predict input x");
        var result = new Matrix<T>(x.Rows, Outputs);
        var chunk = new Matrix<T>(0, Inputs);
        var rows = new int[Math.Min(EvaluationChunk, x.Rows)];
        bool wasTraining = SetTraining(false);
        try
        {
            for (int start = 0; start < x.Rows; start += EvaluationChunk)
            {
                // One chunk's worth runs on x itself; only larger inputs are copied chunk by chunk.
                var output = x;
                if (x.Rows > EvaluationChunk)
                {
                    int count = FillRange(rows, start, x.Rows);
                    x.GatherRowsInto(rows.AsSpan(0, count), chunk);
                    output = chunk;
                }
                if (_device is not null)
                {
                    Workspace.Fit(ref _devicePrediction, output.Rows, Outputs);
                    _device.Predict(output, _devicePrediction);
                    output = _devicePrediction;
                }
                else
                {
                    foreach (var layer in _layers) output = layer.Forward(output);
                }
                output.Span.CopyTo(result.Span[(start * Outputs)..]);
            }
        }
        finally { SetTraining(wasTraining); }
        return result;
    }

    /// <summary>Mean loss (penalty included) and accuracy, argmax(output) = argmax(target), over all rows of (x, y).</summary>
    /// <exception cref="ShapeMismatchException">x or y has the wrong width, or they differ in rows.</exception>
    public (double Loss, double Accuracy) Evaluate(Matrix<T> x, Matrix<T> y)
    {
        CheckBatch(x, y);
        return Evaluate(new Dataset<T>("evaluation", x, y), Enumerable.Range(0, x.Rows).ToArray());
    }

    /// <summary>Mean loss (penalty included) and accuracy over the samples <paramref name="rows"/> of <paramref name="samples"/>; NaN for no rows.</summary>
    /// <exception cref="ShapeMismatchException">The source's widths do not match the network.</exception>
    public (double Loss, double Accuracy) Evaluate(ISampleSource<T> samples, ReadOnlySpan<int> rows)
    {
        Build();
        FinishDeferredSteps();
        CheckSource(samples);
        if (rows.Length == 0) return (double.NaN, double.NaN);
        var x = new Matrix<T>(0, Inputs);
        var y = new Matrix<T>(0, Outputs);
        double lossSum = 0;
        long correct = 0;
        for (int start = 0; start < rows.Length; start += EvaluationChunk)
        {
            var (chunkLoss, chunkCorrect) = EvaluateChunk(samples, rows.Slice(start, Math.Min(EvaluationChunk, rows.Length - start)), x, y);
            lossSum += chunkLoss;
            correct += chunkCorrect;
        }
        return EvaluationResult(lossSum, correct, rows.Length);
    }

    /// <summary>The rows <see cref="Evaluate(ISampleSource{T}, ReadOnlySpan{int})"/> runs at a time; a data-parallel evaluation shares out these chunks, so that its ordered sum is this one's.</summary>
    internal const int EvaluationChunkRows = EvaluationChunk;

    /// <summary>
    /// One chunk of an evaluation, in inference mode: the sum of its rows' losses and how many it got right. On a device the
    /// chunk's sums are read back one by one too, so that the host adds them in the same order (in double) wherever it runs.
    /// </summary>
    internal (double LossSum, long Correct) EvaluateChunk(ISampleSource<T> samples, ReadOnlySpan<int> rows, Matrix<T> x, Matrix<T> y)
    {
        bool wasTraining = SetTraining(false);
        try
        {
            samples.Gather(rows, x, y);
            if (_device is not null)
            {
                _device.BeginEvaluation();
                _device.Evaluate(x, y);
                return _device.EndEvaluation();
            }
            double lossSum = _loss.Forward(ForwardToLoss(x, tape: null), y) * x.Rows;
            return (lossSum, CountCorrect(_loss.Prediction, y));
        }
        finally { SetTraining(wasTraining); }
    }

    /// <summary>Mean loss (penalty included) and accuracy from an evaluation's sums over <paramref name="rows"/> rows.</summary>
    internal (double Loss, double Accuracy) EvaluationResult(double lossSum, long correct, int rows) =>
        (lossSum / rows + RegularizationPenalty(), (double)correct / rows);

    /// <summary>
    /// Forward, loss and backward on one batch: zeroes and then fills every parameter's gradient,
    /// penalty included. Returns the batch's mean loss plus the penalty, and dL/dx in
    /// <paramref name="inputGradient"/> (valid until the next call).
    /// </summary>
    public double ComputeGradients(Matrix<T> x, Matrix<T> y, out Matrix<T> inputGradient)
    {
        double loss = ComputeGradientsLayerByLayer(x, y, out var gradient, gradientsReady: null, needInputGradient: true);
        inputGradient = gradient!;
        return loss;
    }

    /// <summary>
    /// As <see cref="ComputeGradients"/>, telling <paramref name="gradientsReady"/>
    /// (start, length) of each range of <see cref="Gradients"/> that is final (penalty included), layer by layer in
    /// reverse order as the backward pass goes: a data-parallel step starts reducing them while the rest is computed.
    /// Without <paramref name="needInputGradient"/> (a training step, which reads no dL/dx) the first layer may skip
    /// it and <paramref name="inputGradient"/> may be null.
    /// </summary>
    internal double ComputeGradientsLayerByLayer(Matrix<T> x, Matrix<T> y, out Matrix<T>? inputGradient, Action<int, int>? gradientsReady, bool needInputGradient)
    {
        Build();
        CheckBatch(x, y);
        if (x.Rows == 0) throw new ArgumentException("A training batch needs at least one row.", nameof(x));
        if (_device is null) FinishDeferredSteps();   // a device defers nothing; its host copy is brought up to date when read
        Array.Clear(_gradients);
        _gradientsHeld = true;
        _tape.Clear();
        bool wasTraining = SetTraining(true);
        double loss;
        if (_device is not null)
        {
            Workspace.Fit(ref _deviceInputGradient, x.Rows, Inputs);
            inputGradient = _deviceInputGradient;
            try { return _device.ComputeGradients(x, y, inputGradient); }
            finally
            {
                SetTraining(wasTraining);
                _hostStale = true;   // batch norm's running estimates moved
            }
        }
        _gradientsReady = gradientsReady;
        _layerDone ??= LayerDone;
        try
        {
            loss = _loss.Forward(ForwardToLoss(x, _tape), y);
            // Each layer's penalty gradient is added as its backward ends (the same sums as adding all of them after).
            int recorded = _tape.Recorded.Count;
            int first = needInputGradient ? 0 : Math.Min(FirstLearningLayer(), recorded);
            inputGradient = _tape.BackwardLayerByLayer(_loss.Backward(), _layerDone, needInputGradient, first);
            for (int i = first - 1; i >= 0; i--) LayerDone(i);   // not run backward: their frozen parameters' gradients are the penalty's alone
            _regularization.AddGradient(_parameters, _firstParameter[recorded], _parameters.Count);   // layers not recorded (a softmax the loss fuses)
            if (_firstGradient[^1] > _firstGradient[recorded]) gradientsReady?.Invoke(_firstGradient[recorded], _firstGradient[^1] - _firstGradient[recorded]);
        }
        finally
        {
            SetTraining(wasTraining);
            _gradientsReady = null;
        }
        return loss + _regularization.Penalty(_parameters);
    }

    // The first layer that holds a parameter (its children's included) that is not frozen; the layer count when none.
    // A training step reads no dL/dx, so its backward pass stops there: the layers before it lead only to frozen
    // parameters, as autograd leaves out what requires no gradient. In airbench's recipes, once the whitening
    // convolution's bias is frozen, that skips the GELU after it and the next convolution's backward-data pass.
    private int FirstLearningLayer()
    {
        for (int i = 0; i < _layers.Count; i++)
            for (int p = _firstParameter[i]; p < _firstParameter[i + 1]; p++)
                if (!_parameters[p].Frozen) return i;
        return _layers.Count;
    }

    // After layer i's backward: its parameters' gradients are final but for the penalty.
    private void LayerDone(int layer)
    {
        _regularization.AddGradient(_parameters, _firstParameter[layer], _firstParameter[layer + 1]);
        int start = _firstGradient[layer], length = _firstGradient[layer + 1] - start;
        if (length > 0) _gradientsReady?.Invoke(start, length);
    }

    /// <summary>
    /// One training step on a batch: gradients, then the optimiser's update. Returns the loss (penalty
    /// included) before the update. With plain SGD each layer steps as its backward pass ends, fused
    /// with it where the layer can (a linear layer's update is one GEMM into W, or for a few rows one
    /// pass that also computes dX; dW is never stored); the weights come out as from
    /// <see cref="ComputeGradients"/> followed by <see cref="Sgd{T}.Step"/>, up to rounding.
    /// </summary>
    public double TrainStep(Matrix<T> x, Matrix<T> y)
    {
        if (_device is not null) return TrainStepOnDevice(_device, x, y);
        // The fused SGD step applies one rate to every parameter: per-parameter rates take the unfused path.
        if (Optimizer is not Sgd<T> sgd || HasRateScales())
        {
            double total = ComputeGradientsLayerByLayer(x, y, out _, gradientsReady: null, needInputGradient: false);
            Optimizer.Step(_parameters);
            return total;
        }
        Build();
        CheckBatch(x, y);
        if (x.Rows == 0) throw new ArgumentException("A training batch needs at least one row.", nameof(x));
        if (_gradientsHeld)
        {
            Array.Clear(_gradients);
            _gradientsHeld = false;
        }
        _tape.Clear();
        bool wasTraining = SetTraining(true);
        double loss;
        try
        {
            loss = _loss.Forward(ForwardToLoss(x, _tape), y);
            _step.Begin(sgd.LearningRate, RegularizationFactor, mayDefer: DeferSteps);
            int first = Math.Min(FirstLearningLayer(), _tape.Recorded.Count);
            _tape.BackwardAndStep(_loss.Backward(), _step, first);
            for (int p = 0; p < _firstParameter[first]; p++) _step.Apply(_parameters[p]);   // all frozen: counted in the penalty, left as they are
        }
        finally { SetTraining(wasTraining); }
        if (!DeferSteps) FinishDeferredSteps();
        return loss + RegularizationFactor * _step.SquaredWeights;
    }

    private bool HasRateScales()
    {
        for (int i = 0; i < _parameters.Count; i++)
            if (_parameters[i].LearningRateScale != 1) return true;
        return false;
    }

    private double TrainStepOnDevice(NetworkDevice<T> device, Matrix<T> x, Matrix<T> y)
    {
        if (device.QueuedSteps > 0) throw new InvalidOperationException("Steps are queued on the device: take their losses first.");
        QueueTrainStep(x, y);
        Span<double> loss = stackalloc double[1];
        TakeQueuedLosses(loss);
        return loss[0];
    }

    /// <summary>
    /// <see cref="TrainStep"/> without waiting for its loss: on a device the step is queued (up to
    /// <see cref="NetworkDevice{T}.QueueCapacity"/> of them), so that the host never waits for the GPU between steps;
    /// on the host it runs at once. The trainer takes the losses with <see cref="TakeQueuedLosses"/>, every step on the
    /// host and every few dozen on a device, and checks each.
    /// </summary>
    internal void QueueTrainStep(Matrix<T> x, Matrix<T> y)
    {
        if (_device is not { } device)
        {
            if (_hostQueued) throw new InvalidOperationException("A step's loss is queued: take it first.");
            _hostLoss = TrainStep(x, y);
            _hostQueued = true;
            return;
        }
        if (device.QueuedSteps >= NetworkDevice<T>.QueueCapacity) throw new InvalidOperationException($"{NetworkDevice<T>.QueueCapacity} steps are queued on the device: take their losses first.");
        Build();
        CheckBatch(x, y);
        if (x.Rows == 0) throw new ArgumentException("A training batch needs at least one row.", nameof(x));
        bool wasTraining = SetTraining(true);
        try { device.QueueTrainStep(x, y); }
        finally
        {
            SetTraining(wasTraining);
            _hostStale = true;
        }
    }

    /// <summary>How many steps <see cref="QueueTrainStep"/> has queued whose losses are not taken yet.</summary>
    internal int QueuedSteps => _device?.QueuedSteps ?? (_hostQueued ? 1 : 0);

    /// <summary>The most steps that may be queued: one on the host, <see cref="NetworkDevice{T}.QueueCapacity"/> on a device.</summary>
    internal int QueueCapacity => _device is null ? 1 : NetworkDevice<T>.QueueCapacity;

    /// <summary>The queued steps' losses in order (waiting for the device), into <paramref name="losses"/> of <see cref="QueuedSteps"/> elements.</summary>
    internal void TakeQueuedLosses(Span<double> losses)
    {
        if (_device is { } device)
        {
            device.TakeQueuedLosses(losses);
            return;
        }
        if (_hostQueued) losses[0] = _hostLoss;
        _hostQueued = false;
    }

    /// <summary>
    /// The optimiser's step from <see cref="Gradients"/> as the host holds them (summed over micro-batches or processes):
    /// on the host, or sent to the device and stepped there.
    /// </summary>
    internal void StepFromGradients()
    {
        if (_device is null)
        {
            Optimizer.Step(_parameters);
            return;
        }
        _device.StepFromHostGradients();
        _hostStale = true;
    }

    /// <summary>Where the network computes: null on the host, else the device it was moved to (ScratchNet.Gpu's <c>MoveTo</c>).</summary>
    public NetworkDevice<T>? Device => _device;

    /// <summary>
    /// Puts the network on <paramref name="device"/> (built for this network, holding a copy of its current state), or,
    /// for null, back on the host with the device's state copied back and the device released.
    /// </summary>
    internal void Place(NetworkDevice<T>? device)
    {
        if (_device is { } old)
        {
            SyncHost();
            _device = null;
            old.Dispose();
        }
        _device = device;
        _hostStale = false;
    }

    /// <summary>Brings the network back from its device (if any): its state copied to the host, the device memory released.</summary>
    public void MoveToHost() => Place(null);

    /// <summary>Brings the host's copy of the state up to date with the device's, when the device has moved on since.</summary>
    internal void SyncHost()
    {
        if (_device is null || !_hostStale) return;
        _hostStale = false;
        _device.CopyToHost();
    }

    /// <summary>Tells the device that the host's state was written (a snapshot restored, a checkpoint loaded): it takes the host's copy.</summary>
    internal void HostStateWritten()
    {
        if (_device is null) return;
        _device.CopyFromHost();
        _hostStale = false;
    }

    /// <summary>
    /// Every parameter's gradient in one flat buffer, parameter after parameter in <see cref="Parameters"/> order,
    /// each row-major: what <see cref="ComputeGradients"/> fills, and one call of a collective (an all-reduce
    /// across processes) can sum. Each <see cref="Parameter{T}.Gradient"/> is a view into it. Pinned: its address
    /// does not move, so native code may hold it across calls.
    /// </summary>
    public Memory<T> Gradients => _gradients;

    // Lays the gradients of all parameters end to end in one pinned buffer (after each Add: networks are built once).
    private void BindGradients()
    {
        long total = 0;
        foreach (var parameter in _parameters) total += parameter.Gradient.Length;
        if (total > Array.MaxLength) throw new NetworkBuildException($"The network's {total} parameters do not fit one buffer.");
        _gradients = GC.AllocateArray<T>((int)total, pinned: true);
        int offset = 0;
        foreach (var parameter in _parameters)
        {
            parameter.BindGradient(_gradients, offset);
            offset += parameter.Gradient.Length;
        }
        _firstParameter = new int[_layers.Count + 1];
        _firstGradient = new int[_layers.Count + 1];
        for (int i = 0; i < _layers.Count; i++)
        {
            var own = ModuleState.Parameters<T>([_layers[i]]);
            _firstParameter[i + 1] = _firstParameter[i] + own.Count;
            _firstGradient[i + 1] = _firstGradient[i] + own.Sum(p => p.Gradient.Length);
        }
    }

    /// <summary>The L2 penalty λ·Σ W² at the current weights.</summary>
    public double RegularizationPenalty()
    {
        if (_device is not null) return RegularizationFactor == 0 ? 0 : RegularizationFactor * _device.SquaredRegularizedWeights();
        FinishDeferredSteps();
        return _regularization.Penalty(_parameters);
    }

    /// <summary>
    /// While true, <see cref="TrainStep"/> with plain SGD may leave a first linear layer's batch-1 weight update for
    /// the next step's forward pass to apply in the same sweep over W (each weight read and written once per step).
    /// Only the trainer's epoch loop sets it, and it calls <see cref="FinishDeferredSteps"/> before anything reads
    /// the weights; every public method of the network finishes them itself.
    /// </summary>
    internal bool DeferSteps { get; set; }

    /// <summary>Applies every update a layer has deferred (see <see cref="DeferSteps"/>), so the weights are current.</summary>
    internal void FinishDeferredSteps()
    {
        SyncHost();
        for (int i = 0; i < _layers.Count; i++) FinishDeferredSteps(_layers[i]);

        static void FinishDeferredSteps(Layer<T> layer)
        {
            layer.FinishDeferredStep();
            var children = layer.Children;
            for (int i = 0; i < children.Count; i++) FinishDeferredSteps(children[i].Value);
        }
    }

    /// <summary>The architecture in one line, e.g. "784-800-300-10 linear relu linear relu linear softmax, ce".</summary>
    public override string ToString()
    {
        var widths = new List<int> { Inputs };
        widths.AddRange(_layers.OfType<Linear<T>>().Select(l => l.OutputSize));
        return $"{string.Join('-', widths)} {string.Join(' ', _layers.Select(l => l.Kind))}, {(Loss == Loss.L2 ? "l2" : "ce")}";
    }

    // "784 features" (or a bare "784") for a flat shape, "samples of shape (3, 32, 32)" otherwise.
    private static string Describe(Shape shape, string? unit = null) =>
        shape.Rank != 1 ? $"samples of shape {shape}" : unit is null ? $"{shape[0]}" : $"{shape[0]} {unit}";

    private static int Positive(int value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        return value;
    }

    /// <summary>Standard deviation of He-normal initialisation for a layer reading <paramref name="fanIn"/> features.</summary>
    public static double HeScale(int fanIn) => Math.Sqrt(2.0 / fanIn);

    // Runs the layers up to what the loss consumes: all of them, or all but the final softmax when
    // cross-entropy fuses it.
    private Matrix<T> ForwardToLoss(Matrix<T> x, GradientTape<T>? tape)
    {
        int end = Loss == Loss.CrossEntropy ? _layers.Count - 1 : _layers.Count;
        var output = x;
        for (int i = 0; i < end; i++) output = tape is null ? _layers[i].Forward(output) : tape.Forward(_layers[i], output);
        return output;
    }

    // Puts every layer in training or inference mode; returns the mode before, for the caller to restore.
    private bool SetTraining(bool training)
    {
        bool was = _training;
        _training = training;
        for (int i = 0; i < _layers.Count; i++) _layers[i].Training = training;
        return was;
    }

    private void CheckBatch(Matrix<T> x, Matrix<T> y)
    {
        x.RequireCols(Inputs, "Input x");
        y.RequireShape(x.Rows, Outputs, "Target y");
    }

    private static long CountCorrect(Matrix<T> prediction, Matrix<T> target)
    {
        long correct = 0;
        for (int r = 0; r < prediction.Rows; r++)
            if (TensorPrimitives.IndexOfMax<T>(prediction.Row(r)) == TensorPrimitives.IndexOfMax<T>(target.Row(r))) correct++;
        return correct;
    }

    /// <summary>Throws unless the source's feature and target widths match the network's inputs and outputs.</summary>
    internal void CheckSource(ISampleSource<T> samples)
    {
        if (samples.FeatureCount != Inputs || samples.TargetCount != Outputs)
            throw new ShapeMismatchException(
                $"The samples have {samples.FeatureCount} features and {samples.TargetCount} targets, but the network takes {Inputs} inputs and gives {Outputs} outputs.");
    }

    // Fills rows with start, start + 1, … up to its length or end; returns how many.
    private static int FillRange(int[] rows, int start, int end)
    {
        int count = Math.Min(rows.Length, end - start);
        for (int i = 0; i < count; i++) rows[i] = start + i;
        return count;
    }
}
