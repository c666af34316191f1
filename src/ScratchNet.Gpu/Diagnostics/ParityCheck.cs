using ScratchNet.Data;
using ScratchNet.Gpu.Backends;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Gpu.Diagnostics;

/// <summary>One comparison: what was run, ‖candidate − reference‖ / ‖reference‖, and the bound it must meet.</summary>
public readonly record struct ParityResult(string Name, double RelativeError, double Tolerance = ParityResult.KernelTolerance)
{
    /// <summary>The float32 bound every kernel and layer must meet on one application.</summary>
    public const double KernelTolerance = 1e-5;

    /// <summary>
    /// The bound for weights after whole training runs: each step's float32 rounding (different summation
    /// orders, the GPU's exp and tanh) feeds the next, so 20 steps drift further than one kernel call; on an
    /// H200 the worst was 9e-6, on zero-initialised biases.
    /// </summary>
    public const double TrainingTolerance = 1e-4;

    /// <summary>Whether the error is within <see cref="Tolerance"/> (NaN never is).</summary>
    public bool Passed => RelativeError <= Tolerance;
}

/// <summary>
/// Runs every backend operation, and whole training runs, on two backends (or a backend and the core's CPU
/// trainer) from the same random inputs and compares the results. The tests run it against ILGPU's CPU
/// simulator; <c>scratchnet info --check</c> and the GPU bench run it against a real GPU.
/// </summary>
public static class ParityCheck
{
    // (rows, inputs, outputs): odd sizes that leave partial warps, groups and tiles (16+ rows take the tiled SGD step); at full size also the report's
    // batch-1 layer and a mini-batch layer (too slow for the CPU simulator, which gives each GPU thread an OS thread).
    private static readonly (int Rows, int Inputs, int Outputs)[] SmallShapes = [(3, 37, 33), (17, 1, 5), (5, 70, 1), (2, 33, 65), (42, 70, 37)];
    private static readonly (int Rows, int Inputs, int Outputs)[] FullSizeShapes = [(1, 784, 800), (64, 300, 10), (64, 800, 300)];

    /// <summary>
    /// Each operation of <paramref name="candidate"/> against <paramref name="reference"/> on the same random inputs;
    /// <paramref name="fullSize"/> adds the layer sizes of the report's networks.
    /// </summary>
    public static IReadOnlyList<ParityResult> Kernels(IBackend reference, IBackend candidate, ulong seed = 0, bool fullSize = true)
    {
        var rng = new Rng(seed);
        var results = new List<ParityResult>();
        // The inputs each comparison uploads, freed at the end (device memory is not the garbage collector's).
        var uploads = new List<DeviceBuffer<float>>();
        try
        {
            CompareOperations(reference, candidate, rng, results, fullSize, Put);
        }
        finally
        {
            foreach (var buffer in uploads) buffer.Dispose();
        }
        return results;

        DeviceBuffer<float> Put(IBackend backend, float[] values)
        {
            var buffer = backend.Allocate<float>(values.Length);
            backend.Upload<float>(values, buffer);
            uploads.Add(buffer);
            return buffer;
        }
    }

    // Every operation at every shape, on both backends, into results; put uploads an input to a backend.
    private static void CompareOperations(IBackend reference, IBackend candidate, Rng rng, List<ParityResult> results, bool fullSize,
                                Func<IBackend, float[], DeviceBuffer<float>> put)
    {
        foreach (var (rows, inputs, outputs) in fullSize ? [.. SmallShapes, .. FullSizeShapes] : SmallShapes)
        {
            string shape = $"{rows}x{inputs}->{outputs}";
            foreach (var activation in Enum.GetValues<DeviceActivation>())
            {
                float[] x = Random(rng, rows * inputs), w = Random(rng, outputs * inputs), b = Random(rng, outputs);
                results.Add(new($"linear forward {shape} {activation}", Compare(reference, candidate, rows * outputs, (backend, output) =>
                    backend.LinearForward(put(backend, x), rows, inputs, put(backend, w), put(backend, b), outputs, activation, output))));

                float[] dz = Random(rng, rows * outputs);
                float[] a = [.. Random(rng, rows * inputs).Select(z => CpuBackend.Activate(activation, 2 * z))];
                results.Add(new($"linear input gradient {shape} {activation}", Compare(reference, candidate, rows * inputs, (backend, dx) =>
                    backend.LinearInputGradient(put(backend, dz), rows, outputs, put(backend, w), inputs, activation, put(backend, a), dx))));
            }

            float[] gradient = Random(rng, rows * outputs), input = Random(rng, rows * inputs), weight = Random(rng, outputs * inputs), bias = Random(rng, outputs);
            var (referenceW, referenceB) = Step(reference);
            var (candidateW, candidateB) = Step(candidate);
            results.Add(new($"linear sgd step weights {shape}", RelativeError(candidateW, referenceW)));
            results.Add(new($"linear sgd step bias {shape}", RelativeError(candidateB, referenceB)));

            (float[] W, float[] B) Step(IBackend backend)
            {
                var w = put(backend, weight);
                var b = put(backend, bias);
                backend.LinearSgdStep(put(backend, gradient), put(backend, input), rows, outputs, inputs, w, b, 0.05f, 0.99f);
                return (Get(backend, w), Get(backend, b));
            }
        }

        foreach (var (rows, cols) in new[] { (1, 10), (64, 10), (7, 45), (3, 1) })
        {
            float[] logits = Random(rng, rows * cols, scale: 4), targets = OneHot(rng, rows, cols);
            foreach (var activation in new[] { DeviceActivation.None, DeviceActivation.Sigmoid })
            {
                results.AddRange(LossParity($"softmax cross-entropy {rows}x{cols} {activation}", (backend, g, loss, correct) =>
                    backend.SoftmaxCrossEntropy(put(backend, logits), put(backend, targets), rows, cols, activation, 1f / rows, g, loss, correct)));
                results.AddRange(LossParity($"squared error {rows}x{cols} {activation}", (backend, g, loss, correct) =>
                    backend.SquaredError(put(backend, logits), put(backend, targets), rows, cols, activation, 1f / rows, g, loss, correct)));
            }

            List<ParityResult> LossParity(string name, Action<IBackend, DeviceBuffer<float>, DeviceBuffer<float>, DeviceBuffer<float>> run)
            {
                float[][] Outputs(IBackend backend)
                {
                    using var g = backend.Allocate<float>(rows * cols);
                    using var loss = backend.Allocate<float>(rows);
                    using var correct = backend.Allocate<float>(rows);
                    run(backend, g, loss, correct);
                    return [Get(backend, g), Get(backend, loss), Get(backend, correct)];
                }
                float[][] expected = Outputs(reference), actual = Outputs(candidate);
                return [new($"{name} gradient", RelativeError(actual[0], expected[0])), new($"{name} loss", RelativeError(actual[1], expected[1])),
                        new($"{name} argmax", RelativeError(actual[2], expected[2]))];
            }
        }

        foreach (int count in fullSize ? new[] { 1, 255, 257, 100_000 } : [1, 63, 65, 1000])
        {
            float[] values = Random(rng, count);
            foreach (bool squares in new[] { false, true })
            {
                double Sum(IBackend backend)
                {
                    using var sums = backend.Allocate<double>(2);
                    backend.Fill(sums, 0.5);
                    if (squares) backend.AccumulateSquares(put(backend, values), count, sums, 1);
                    else backend.AccumulateSum(put(backend, values), count, sums, 1);
                    var result = new double[2];
                    backend.Download<double>(sums, result);
                    return result[1];
                }
                double expected = Sum(reference);
                results.Add(new($"accumulate {(squares ? "squares" : "sum")} {count}", Math.Abs(Sum(candidate) - expected) / Math.Max(Math.Abs(expected), 1e-30)));
            }
        }

        {
            const int All = 50, Features = 7, Targets = 3, Rows = 9, First = 4;
            float[] allX = Random(rng, All * Features), allY = Random(rng, All * Targets);
            int[] order = [.. Enumerable.Range(0, All).Select(_ => rng.NextInt(All))];
            float[][] Gather(IBackend backend)
            {
                using var x = backend.Allocate<float>(Rows * Features);
                using var y = backend.Allocate<float>(Rows * Targets);
                using var orderBuffer = backend.Allocate<int>(All);
                backend.Upload<int>(order, orderBuffer);
                backend.GatherBatch(put(backend, allX), Features, put(backend, allY), Targets, orderBuffer, First, Rows, x, y);
                return [Get(backend, x), Get(backend, y)];
            }
            float[][] expected = Gather(reference), actual = Gather(candidate);
            results.Add(new("gather batch", Math.Max(RelativeError(actual[0], expected[0]), RelativeError(actual[1], expected[1]))));
        }
    }

    /// <summary>
    /// The same seeded network trained by the core's <see cref="Trainer{T}"/> on the CPU and by
    /// <see cref="DeviceTrainer"/> on <paramref name="backend"/>, for <paramref name="steps"/> steps of
    /// <paramref name="batchSize"/> rows: the relative error of each layer's weights and of the final statistics.
    /// </summary>
    public static IReadOnlyList<ParityResult> Training(IBackend backend, int steps = 20, int batchSize = 4, Loss loss = Loss.CrossEntropy, ulong seed = 0)
    {
        var rng = new Rng(seed + 1);
        const int Features = 20, Classes = 4;
        int trainRows = steps * batchSize;
        int samples = trainRows * 5 / 4;                       // the 80/20 split leaves exactly trainRows to train on
        var x = new Matrix<float>(samples, Features, Random(rng, samples * Features));
        var y = new Matrix<float>(samples, Classes, OneHot(rng, samples, Classes));
        var data = new Dataset<float>("parity", x, y);

        Network<float> Build()
        {
            var network = new Network<float>(Features, Classes, loss, regularizationFactor: 1e-3, learningRate: 0.05, seed: seed);
            network.AddLinear(16, regularization: true);
            network.AddRelu();
            network.AddLinear(12, regularization: true);
            network.Add(new Layers.Tanh<float>(network.CurrentWidth));
            network.AddLinear(Classes, regularization: false);
            if (loss == Loss.CrossEntropy) network.AddSoftmax();
            return network;
        }

        var cpu = Build();
        var cpuTrainer = new Trainer<float>(cpu, data, seed: seed) { Output = TextWriter.Null };
        var cpuHistory = cpuTrainer.Train(1, batchSize);
        var device = Build();
        using var deviceTrainer = new DeviceTrainer(device, data, backend, seed: seed) { Output = TextWriter.Null };
        var deviceHistory = deviceTrainer.Train(1, batchSize);

        string name = $"training {steps} steps of batch {batchSize}, {loss}";
        var results = new List<ParityResult>();
        for (int p = 0; p < cpu.Parameters.Count; p++)
            results.Add(new($"{name}: parameter {p} ({cpu.Parameters[p].Name})",
                RelativeError(device.Parameters[p].Value.ToArray(), cpu.Parameters[p].Value.ToArray()), ParityResult.TrainingTolerance));
        var (c, d) = (cpuHistory.Final, deviceHistory.Final);
        results.Add(new($"{name}: final train/validation loss and accuracy", RelativeError(
            [(float)d.TrainLoss, (float)d.TrainAccuracy, (float)d.ValidationLoss, (float)d.ValidationAccuracy],
            [(float)c.TrainLoss, (float)c.TrainAccuracy, (float)c.ValidationLoss, (float)c.ValidationAccuracy]), ParityResult.TrainingTolerance));
        return results;
    }

    /// <summary>‖actual − expected‖₂ / ‖expected‖₂ (the plain norm of the difference when expected is zero); NaN anywhere gives NaN.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) return double.NaN;
        double difference = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            difference += d * d;
            norm += (double)expected[i] * expected[i];
            if (float.IsNaN(actual[i])) return double.NaN;
        }
        return norm == 0 ? Math.Sqrt(difference) : Math.Sqrt(difference / norm);
    }

    private static double Compare(IBackend reference, IBackend candidate, int length, Action<IBackend, DeviceBuffer<float>> run)
    {
        float[] Run(IBackend backend)
        {
            using var output = backend.Allocate<float>(length);
            // Poisoned first, so that an element the operation fails to write shows up as NaN.
            backend.Upload<float>(Enumerable.Repeat(float.NaN, length).ToArray(), output);
            run(backend, output);
            return Get(backend, output);
        }
        return RelativeError(Run(candidate), Run(reference));
    }

    private static float[] Get(IBackend backend, DeviceBuffer<float> buffer)
    {
        var values = new float[buffer.Length];
        backend.Download<float>(buffer, values);
        return values;
    }

    private static float[] Random(Rng rng, int count, double scale = 1) =>
        [.. Enumerable.Range(0, count).Select(_ => (float)(scale * rng.NextNormal()))];

    private static float[] OneHot(Rng rng, int rows, int cols)
    {
        var values = new float[rows * cols];
        for (int r = 0; r < rows; r++) values[r * cols + rng.NextInt(cols)] = 1;
        return values;
    }
}
