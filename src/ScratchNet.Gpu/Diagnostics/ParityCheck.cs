using System.Numerics;
using ILGPU.Runtime;
using ScratchNet.Data;
using ScratchNet.Gpu.Layers;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Training;

namespace ScratchNet.Gpu.Diagnostics;

/// <summary>One comparison: what was run, ‖device − host‖ / ‖host‖, and the bound it must meet.</summary>
public readonly record struct ParityResult(string Name, double RelativeError, double Tolerance)
{
    /// <summary>The float32 bound of one layer application (forward, input gradient, parameter gradients, buffers).</summary>
    public const double LayerTolerance = 1e-5;

    /// <summary>
    /// The float32 bound for weights and statistics after whole trainings: each step's rounding (another summation
    /// order, the device's exp and tanh) feeds the next, so 20 steps drift further than one call.
    /// </summary>
    public const double TrainingTolerance = 1e-4;

    /// <summary>Whether the error is within <see cref="Tolerance"/> (NaN never is).</summary>
    public bool Passed => RelativeError <= Tolerance;
}

/// <summary>
/// Every layer's device half against its host layer, and whole trainings on a device against the same trainings on
/// the CPU, from the same random inputs and seeds. The tests run it on ILGPU's CPU accelerator;
/// <c>scratchnet info --check</c> and the GPU bench run it on a real GPU.
/// </summary>
public static class ParityCheck
{
    private const int Rows = 5, Width = 7;

    /// <summary>Each registered layer's device half (float32, and float64 with a bound of 1e-12) against the host layer on odd sizes.</summary>
    public static IReadOnlyList<ParityResult> Layers(GpuDevice device, ulong seed = 1)
    {
        var results = new List<ParityResult>();
        LayersOf<float>(device, seed, ParityResult.LayerTolerance, results);
        LayersOf<double>(device, seed, 1e-12, results);
        return results;
    }

    /// <summary>
    /// Trainings of about <paramref name="steps"/> steps through the one <see cref="Trainer{T}"/>, on the device and on the
    /// CPU from the same seeds: <see cref="OptimizerTrainings"/> and <see cref="ImageTrainings"/>.
    /// </summary>
    public static IReadOnlyList<ParityResult> Training(GpuDevice device, int steps = 20, ulong seed = 2) =>
        [.. OptimizerTrainings(device, steps, seed), .. ImageTrainings(device, steps, seed)];

    /// <summary>
    /// Trainings with every optimiser, dropout, batch norm, a residual block, both losses, the L2 penalty, a schedule and
    /// clipping: the final weights, batch-norm estimates and every epoch's statistics compared.
    /// </summary>
    public static IReadOnlyList<ParityResult> OptimizerTrainings(GpuDevice device, int steps = 20, ulong seed = 2)
    {
        var results = new List<ParityResult>();
        foreach (var (name, optimizer) in Optimizers())
            Train(device, $"train {name}, dropout + batch norm, ce", steps, seed, results, Loss.CrossEntropy, optimizer, schedule: name == "sgd");
        Train(device, "train sgd, residual + tanh/sigmoid/leaky relu, l2", steps, seed + 1, results, Loss.L2, () => new Sgd<float>(0.05), schedule: false);
        return results;
    }

    /// <summary>
    /// A small CNN (convolutions, batchnorm2d, pooling) with label smoothing, Nesterov SGD with decoupled weight decay, a
    /// bias learning-rate scale and a per-step schedule; then each optimiser kind with parameter groups (the biases at
    /// another rate and decay) and label smoothing.
    /// </summary>
    public static IReadOnlyList<ParityResult> ImageTrainings(GpuDevice device, int steps = 20, ulong seed = 2)
    {
        var results = new List<ParityResult>();
        TrainCnn(device, steps, seed + 2, results);
        foreach (var (name, optimizer) in GroupedOptimizers())
            Train(device, $"train {name}, parameter groups, a bias frozen after epoch 0, label smoothing", steps, seed + 3, results, Loss.CrossEntropy, optimizer, schedule: false, groups: true);
        return results;
    }

    // What the parameter groups change in each optimiser: the rate scale of the biases and their own decay.
    private static IEnumerable<(string Name, Func<IOptimizer<float>> Create)> GroupedOptimizers() =>
    [
        ("sgd", () => new Sgd<float>(0.1)),
        ("momentum with coupled weight decay", () => new SgdMomentum<float>(0.05, 0.9, weightDecay: 0.01)),
        ("adamw", () => new AdamW<float>(0.01, weightDecay: 0.05)),
        ("rmsprop", () => new RmsProp<float>(0.005)),
        ("clipped nesterov", () => new ClippedOptimizer<float>(new SgdMomentum<float>(0.05, 0.9, nesterov: true), maxNorm: 0.5)),
    ];

    /// <summary>
    /// The small CNN of the CIFAR recipe's kind — frozen conv → conv → batchnorm2d → GELU → maxpool → conv → global average
    /// pool → flatten → linear → scale — with label smoothing, Nesterov SGD with decoupled weight decay, the biases at a scaled learning
    /// rate (and decay / scale, as the CLI's --bias-lr-scale sets them), a per-step triangular schedule and lookahead
    /// weight averaging from epoch 1 (its copies between host and device), the frozen conv's bias frozen too from
    /// epoch 1, trained on (2, 6, 6) samples on both devices.
    /// </summary>
    private static void TrainCnn(GpuDevice device, int steps, ulong seed, List<ParityResult> results)
    {
        const int BatchSize = 4;
        int samples = (int)Math.Ceiling(steps * BatchSize / 2 / 0.8);
        var rng = new Rng(seed);
        var shape = new Shape(2, 6, 6);   // small: the CPU accelerator runs every GPU thread of the convolutions in turn
        var x = Random<float>(samples, shape.Size, rng);
        var y = OneHot(samples, 3, rng);
        var options = new TrainOptions
        {
            Epochs = 2, BatchSize = BatchSize, StepSchedule = new Triangular(0.02, peakFraction: 0.3, startFactor: 0.2, endFactor: 0.1),
            WeightAveraging = new WeightAveraging(0.8, Every: 3, Power: 1, Lookahead: true, StartEpoch: 1),
        };
        Network<float> Build()
        {
            var network = new Network<float>(shape, 3, Loss.CrossEntropy, seed: seed)
            {
                Optimizer = new SgdMomentum<float>(0.02, 0.9, nesterov: true, weightDecay: 5e-3, decoupled: true),
                LabelSmoothing = 0.2,
            };
            // A frozen 2×2 convolution first, as airbench's whitening layer: its weight is a buffer, not a parameter; its
            // bias trains for the first epoch only (airbench's three).
            var whitening = network.Add(new Conv2d<float>(network.CurrentShape, 3, 2, bias: true, frozenWeight: true));
            var draw = new Rng(seed + 7);   // the same weights for both networks
            foreach (ref float v in whitening.Weight.Value.Span) v = (float)(0.5 * draw.NextNormal());
            network.AddConv2d(4, 3, padding: 1, bias: false);
            network.AddBatchNorm2d();
            network.Add(new Gelu<float>(network.CurrentShape, GeluApproximation.None));
            network.AddMaxPool2d(2);
            network.AddConv2d(4, 3, padding: 1);
            network.AddGlobalAvgPool2d();
            network.AddFlatten();
            network.AddLinear(3);
            network.Add(new Scale<float>(network.CurrentShape, 1.0 / 3));
            network.AddSoftmax();
            foreach (var parameter in network.Parameters.Where(p => p.Name == "bias"))
            {
                parameter.LearningRateScale = 4;
                parameter.WeightDecay = 5e-3 / 4;
            }
            return network;
        }
        Compare(device, "train nesterov + decoupled decay, cnn (frozen conv whose bias freezes after epoch 0, conv, batchnorm2d, gelu, maxpool, global pool, scale), " +
                "bias lr x4, label smoothing, triangular, lookahead from epoch 1", Build, x, y, options, seed, results,
                trainer => trainer.EpochStarting += epoch => ((Conv2d<float>)trainer.Network.Layers[0]).Bias!.Frozen = epoch >= 1);
    }

    private static IEnumerable<(string Name, Func<IOptimizer<float>> Create)> Optimizers() =>
    [
        ("sgd", () => new Sgd<float>(0.1)),
        ("momentum", () => new SgdMomentum<float>(0.05, 0.9)),
        ("nesterov", () => new SgdMomentum<float>(0.05, 0.9, nesterov: true)),
        ("adam", () => new Adam<float>(0.01)),
        ("adamw", () => new AdamW<float>(0.01, weightDecay: 0.05)),
        ("rmsprop", () => new RmsProp<float>(0.005, momentum: 0.5)),
        ("clipped sgd", () => new ClippedOptimizer<float>(new Sgd<float>(0.2), maxNorm: 0.5)),
    ];

    private static void LayersOf<T>(GpuDevice device, ulong seed, double tolerance, List<ParityResult> results) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(seed);
        var shape = new Shape(Width);
        var image = new Shape(3, 7, 6);
        Linear<T> Dense(int inputs, int outputs) => Linear<T>.Generate(inputs, outputs, 0.5, 0, 0.5, 0, regularized: false, rng);
        var cases = new (string Name, Func<Layer<T>> Create, bool Training)[]
        {
            ("linear", () => Dense(Width, 6), true),
            ("linear without bias", () => new Linear<T>(Dense(Width, 6).Weight.Value, null, regularized: false), true),
            ("relu", () => new Relu<T>(shape), true),
            ("leaky_relu", () => new LeakyRelu<T>(shape, 0.2), true),
            ("sigmoid", () => new Sigmoid<T>(shape), true),
            ("tanh", () => new Tanh<T>(shape), true),
            ("gelu", () => new Gelu<T>(shape), true),
            ("gelu exact", () => new Gelu<T>(shape, GeluApproximation.None), true),
            ("softmax", () => new Softmax<T>(shape), true),
            ("dropout (training)", () => new Dropout<T>(shape, 0.3, seed: 7), true),
            ("dropout (inference)", () => new Dropout<T>(shape, 0.3, seed: 7), false),
            ("batchnorm1d (training)", () => WithStatistics(new BatchNorm1d<T>(Width, momentum: 0.2), rng), true),
            ("batchnorm1d (inference)", () => WithStatistics(new BatchNorm1d<T>(Width), rng), false),
            ("sequential", () => new Sequential<T>(Dense(Width, 6), new Gelu<T>(new Shape(6)), Dense(6, 4)), true),
            ("residual", () => new Residual<T>(new Sequential<T>(Dense(Width, Width), new Tanh<T>(shape))), true),
            ("residual with projection", () => new Residual<T>(Dense(Width, 3), Dense(Width, 3)), true),
            // Image layers on odd sizes: (3, 7, 6) samples, strides and paddings that leave partial windows.
            ("conv2d 3x3 pad 1", () => Conv(new Conv2d<T>(image, 4, 3, stride: 1, padding: 1), rng), true),
            ("conv2d 2x3 stride (2, 1) pad (1, 0) no bias", () => Conv(new Conv2d<T>(image, 5, (2, 3), (2, 1), (1, 0), bias: false), rng), true),
            ("conv2d 2x2 same", () => Conv(Conv2d<T>.Same(image, 2, (2, 2)), rng), true),
            ("conv2d 1x1", () => Conv(new Conv2d<T>(image, 3, 1), rng), true),
            ("conv2d 3x3 stride 2 pad 1 groups 2", () => Conv(new Conv2d<T>(new Shape(4, 7, 6), 6, 3, stride: 2, padding: 1, groups: 2), rng), true),
            ("conv2d 2x2 frozen weight", () => Conv(new Conv2d<T>(image, 4, 2, frozenWeight: true), rng), true),
            ("scale", () => new Scale<T>(image, -1.0 / 9), true),
            ("maxpool2d 2", () => new MaxPool2d<T>(image, 2), true),
            ("maxpool2d 3 stride 2 pad 1", () => new MaxPool2d<T>(image, 3, stride: 2, padding: 1), true),
            ("avgpool2d 3 stride 2 pad 1", () => new AvgPool2d<T>(image, 3, stride: 2, padding: 1), true),
            ("avgpool2d 2x3 stride (1, 2) pad (1, 1) without pad", () => new AvgPool2d<T>(image, (2, 3), (1, 2), (1, 1), countIncludePad: false), true),
            ("global_avgpool2d", () => new GlobalAvgPool2d<T>(image), true),
            ("flatten", () => new Flatten<T>(image), true),
            ("batchnorm2d (training)", () => WithStatistics(new BatchNorm2d<T>(image, momentum: 0.2), rng), true),
            ("batchnorm2d (inference)", () => WithStatistics(new BatchNorm2d<T>(image), rng), false),
            ("batchnorm2d without affine (training)", () => WithStatistics(new BatchNorm2d<T>(image, affine: false), rng), true),
            ("batchnorm2d frozen weight (training)", () => WithStatistics(new BatchNorm2d<T>(image, frozenWeight: true), rng), true),
            ("batchnorm2d frozen weight (inference)", () => WithStatistics(new BatchNorm2d<T>(image, frozenWeight: true), rng), false),
        };
        foreach (var (name, create, training) in cases)
            Compare(device, $"{name} {typeof(T).Name}", create(), training, rng, tolerance, results);
    }

    // Random affine weights and running estimates, so that no comparison runs on ones and zeros.
    private static BatchNorm1d<T> WithStatistics<T>(BatchNorm1d<T> layer, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (ref T v in layer.Weight.Value.Span) v = T.CreateChecked(1 + 0.3 * rng.NextNormal());
        foreach (ref T v in layer.Bias.Value.Span) v = T.CreateChecked(0.3 * rng.NextNormal());
        foreach (ref T v in layer.RunningMean.Span) v = T.CreateChecked(0.5 * rng.NextNormal());
        foreach (ref T v in layer.RunningVariance.Span) v = T.CreateChecked(0.5 + rng.NextDouble());
        return layer;
    }

    // Random weights and bias (the constructor's are zero).
    private static Conv2d<T> Conv<T>(Conv2d<T> layer, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (ref T v in layer.Weight.Value.Span) v = T.CreateChecked(0.4 * rng.NextNormal());
        if (layer.Bias is { } bias) foreach (ref T v in bias.Value.Span) v = T.CreateChecked(0.3 * rng.NextNormal());
        return layer;
    }

    private static BatchNorm2d<T> WithStatistics<T>(BatchNorm2d<T> layer, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (layer.Weight is { } weight) foreach (ref T v in weight.Value.Span) v = T.CreateChecked(1 + 0.3 * rng.NextNormal());
        if (layer.Bias is { } bias) foreach (ref T v in bias.Value.Span) v = T.CreateChecked(0.3 * rng.NextNormal());
        foreach (ref T v in layer.RunningMean.Span) v = T.CreateChecked(0.5 * rng.NextNormal());
        foreach (ref T v in layer.RunningVariance.Span) v = T.CreateChecked(0.5 + rng.NextDouble());
        return layer;
    }

    private static void Compare<T>(GpuDevice device, string name, Layer<T> layer, bool training, Rng rng, double tolerance, List<ParityResult> results)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        layer.Training = training;
        var parameters = ModuleState.Parameters<T>([layer]);
        var x = Random<T>(Rows, layer.InputSize, rng);
        var dy = Random<T>(Rows, layer.OutputSize, rng);
        var (buffers, context) = GpuNetwork<T>.Bind(parameters, device);
        using (context)
        {
            GpuNetwork<T>.Upload(buffers);
            var half = DeviceLayer<T>.Create(layer, "0", context);   // takes the host's buffers as they are now
            var generator = ModuleState.Generators<T>([layer]).Select(g => g.GetState()).ToList();

            foreach (var p in parameters) p.Gradient.Span.Clear();
            var y = layer.Forward(x).Clone();
            var dx = layer.Backward(dy).Clone();
            var gradients = parameters.Select(p => p.Gradient.Clone()).ToList();
            var hostBuffers = ModuleState.Buffers<T>([layer]).Select(b => b.Clone()).ToList();

            var generators = ModuleState.Generators<T>([layer]);
            for (int i = 0; i < generators.Count; i++) generators[i].SetState(generator[i]);
            var deviceY = half.Forward(new DeviceMatrix<T>(device, layer.InputSize).Upload(x));
            var deviceDx = half.Backward(new DeviceMatrix<T>(device, layer.OutputSize).Upload(dy));
            device.Synchronize();
            var yOut = new Matrix<T>(Rows, layer.OutputSize);
            deviceY.Download(yOut);
            var dxOut = new Matrix<T>(Rows, layer.InputSize);
            deviceDx.Download(dxOut);
            results.Add(new($"{name}: forward", RelativeError(yOut, y), tolerance));
            results.Add(new($"{name}: input gradient", RelativeError(dxOut, dx), tolerance));
            for (int i = 0; i < parameters.Count; i++)
            {
                var deviceGradient = new Matrix<T>(parameters[i].Gradient.Rows, parameters[i].Gradient.Cols);
                buffers.Segment(buffers.Gradients, i).CopyToCPU(deviceGradient.Span);
                results.Add(new($"{name}: gradient of parameter {i} ({parameters[i].Name})", RelativeError(deviceGradient, gradients[i]), tolerance));
            }
            half.CopyToHost();
            var deviceBuffers = ModuleState.Buffers<T>([layer]);
            for (int i = 0; i < deviceBuffers.Count; i++)
                results.Add(new($"{name}: buffer {i}", RelativeError(deviceBuffers[i], hostBuffers[i]), tolerance));
            half.Dispose();
        }
    }

    private static void Train(GpuDevice device, string name, int steps, ulong seed, List<ParityResult> results, Loss loss, Func<IOptimizer<float>> optimizer, bool schedule,
                              bool groups = false)
    {
        const int BatchSize = 4;
        int samples = (int)Math.Ceiling(steps * BatchSize / 2 / 0.8);   // two epochs of about steps/2 batches after the 80/20 split
        var rng = new Rng(seed);
        var x = Random<float>(samples, 6, rng);
        var y = OneHot(samples, 3, rng);
        var options = new TrainOptions { Epochs = 2, BatchSize = BatchSize, Schedule = schedule ? new StepDecay(0.1, stepSize: 1, gamma: 0.5) : null };
        Network<float> Grouped()
        {
            var network = Build(loss, seed, optimizer());
            if (!groups) return network;
            network.LabelSmoothing = 0.1;
            foreach (var parameter in network.Parameters.Where(p => p.Name == "bias"))
            {
                parameter.LearningRateScale = 3;
                parameter.WeightDecay = 0;
            }
            return network;
        }
        // With groups, the first layer's bias also trains for the first epoch only (Parameter.Frozen from the epoch hook).
        Compare(device, name, Grouped, x, y, options, seed, results,
                groups ? trainer => trainer.EpochStarting += epoch => trainer.Network.Parameters[1].Frozen = epoch >= 1 : null);
    }

    private static Matrix<float> OneHot(int samples, int classes, Rng rng)
    {
        var y = new Matrix<float>(samples, classes);
        for (int r = 0; r < samples; r++) y[r, (int)(rng.NextUInt64() % (ulong)classes)] = 1;
        return y;
    }

    // The same training on the host and on the device: every state tensor and the epochs' statistics compared.
    private static void Compare(GpuDevice device, string name, Func<Network<float>> build, Matrix<float> x, Matrix<float> y, TrainOptions options, ulong seed,
                                List<ParityResult> results, Action<Trainer<float>>? prepare = null)
    {
        var host = build();
        var onDevice = build().MoveTo(device);
        Trainer<float> Prepared(Network<float> network)
        {
            var trainer = new Trainer<float>(network, x, y, seed: seed);
            prepare?.Invoke(trainer);
            return trainer;
        }
        var hostHistory = Prepared(host).Train(options);
        var deviceHistory = Prepared(onDevice).Train(options);
        onDevice.MoveToHost();

        var hostState = ModuleState.Entries(host.Layers);
        var deviceState = ModuleState.Entries(onDevice.Layers);
        for (int i = 0; i < hostState.Count; i++)
            results.Add(new($"{name}: {hostState[i].Name} after {hostHistory.Count - 1} epochs", RelativeError(deviceState[i].Value, hostState[i].Value), ParityResult.TrainingTolerance));
        double statistics = 0;
        for (int e = 0; e < hostHistory.Count; e++)
        {
            var (a, b) = (hostHistory[e], deviceHistory[e]);
            statistics = Math.Max(statistics, Math.Abs(a.TrainLoss - b.TrainLoss) / Math.Abs(a.TrainLoss));
            statistics = Math.Max(statistics, Math.Abs(a.ValidationLoss - b.ValidationLoss) / Math.Abs(a.ValidationLoss));
            statistics = Math.Max(statistics, Math.Abs(a.TrainAccuracy - b.TrainAccuracy) + Math.Abs(a.ValidationAccuracy - b.ValidationAccuracy));
        }
        results.Add(new($"{name}: epoch statistics", statistics, ParityResult.TrainingTolerance));
    }

    private static Network<float> Build(Loss loss, ulong seed, IOptimizer<float> optimizer)
    {
        var network = new Network<float>(6, 3, loss, regularizationFactor: 1e-3, seed: seed) { Optimizer = optimizer };
        if (loss == Loss.CrossEntropy)
        {
            // Batch norm after the activation: right after a linear layer it would cancel that layer's bias gradient to
            // rounding noise, which an adaptive optimiser then turns into steps of full size in either direction.
            network.AddLinear(8, regularization: true);
            network.Add(new Gelu<float>(network.CurrentShape));
            network.AddBatchNorm();
            network.AddDropout(0.2);
            network.AddLinear(3);
            network.AddSoftmax();
        }
        else
        {
            network.AddLinear(8, regularization: true);
            network.Add(new LeakyRelu<float>(network.CurrentShape, 0.1));
            var rng = new Rng(seed + 100);
            network.Add(new Residual<float>(new Sequential<float>(Linear<float>.Generate(8, 8, 0.3, 0, 0.1, 0, true, rng), new Tanh<float>(new Shape(8)))));
            network.AddLinear(3);
            network.Add(new Sigmoid<float>(network.CurrentShape));
        }
        return network;
    }

    private static Matrix<T> Random<T>(int rows, int cols, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var m = new Matrix<T>(rows, cols);
        foreach (ref T v in m.Span) v = T.CreateChecked(rng.NextNormal());
        return m;
    }

    /// <summary>‖candidate − reference‖ / ‖reference‖ (the plain norm of the difference when the reference is zero); NaN for different lengths.</summary>
    public static double RelativeError<T>(Matrix<T> candidate, Matrix<T> reference) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (candidate.Length != reference.Length) return double.NaN;
        double difference = 0, norm = 0;
        var a = candidate.Span;
        var b = reference.Span;
        for (int i = 0; i < a.Length; i++)
        {
            double d = double.CreateChecked(a[i]) - double.CreateChecked(b[i]);
            difference += d * d;
            norm += double.CreateChecked(b[i]) * double.CreateChecked(b[i]);
        }
        return norm == 0 ? Math.Sqrt(difference) : Math.Sqrt(difference / norm);
    }
}
