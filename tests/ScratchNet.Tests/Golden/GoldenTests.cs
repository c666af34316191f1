using System.Globalization;
using System.Numerics;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Losses;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// The 5-7-6-4 network against PyTorch's float64 reference (tools/golden/make_golden.py): forward output,
/// loss, dL/dx and every parameter gradient on batch 0, then the losses of three SGD steps and the
/// parameters after them. An element passes when |actual − expected| ≤ tolerance · max(1, max |expected|
/// over its tensor): 1e-5 in float32, 1e-10 in float64.
/// </summary>
public class GoldenTests(ITestOutputHelper output)
{
    private static readonly string[] ExpectedCases =
    [
        "l2_reg0_b1", "l2_reg0_b8", "l2_reg0.01_b1", "l2_reg0.01_b8",
        "ce_reg0_b1", "ce_reg0_b8", "ce_reg0.01_b1", "ce_reg0.01_b8",
    ];

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Golden");

    /// <summary>Every golden file in the output folder, by case name.</summary>
    public static TheoryData<string> Cases() => new(FoundCases());

    [Fact]
    public void ExactlyTheEightExpectedCasesExist()
    {
        var found = FoundCases();
        var missing = ExpectedCases.Except(found).ToArray();
        var unexpected = found.Except(ExpectedCases).ToArray();
        Assert.True(missing.Length == 0 && unexpected.Length == 0,
            $"Golden files in {Folder}: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}].");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32NetworkMatchesPyTorch(string name) => Compare<float>(name, 1e-5);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64NetworkMatchesPyTorch(string name) => Compare<double>(name, 1e-10);

    private static string[] FoundCases() =>
        Directory.Exists(Folder)
            ? [.. Directory.EnumerateFiles(Folder, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>().Order(StringComparer.Ordinal)]
            : [];

    private void Compare<T>(string name, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var golden = GoldenCase.Load(Path.Combine(Folder, name + ".json"));
        Assert.Equal(name, golden.Name);
        Assert.Equal([5, 7, 6, 4], golden.Sizes);

        var net = new Network<T>(5, 4, golden.Loss, regularizationFactor: golden.Reg, learningRate: golden.Lr);
        var linears = new Linear<T>[3];
        for (int i = 0; i < linears.Length; i++)
        {
            linears[i] = net.AddLinear(golden.Sizes[i + 1], regularization: true);
            if (i < linears.Length - 1) net.AddRelu();
        }
        if (golden.Loss == Loss.CrossEntropy) net.AddSoftmax();
        for (int i = 0; i < linears.Length; i++)
        {
            golden.CopyInto($"W{i}", linears[i].Weight.Value);
            golden.CopyInto($"b{i}", linears[i].Bias!.Value);
        }

        var check = new Comparison(name, typeof(T) == typeof(float) ? "float32" : "float64", tolerance);
        var x0 = golden.Batch<T>("x", 0);
        var y0 = golden.Batch<T>("y", 0);
        check.Matrix("output", golden["output"], net.Predict(x0));
        double loss = net.ComputeGradients(x0, y0, out var dx);
        check.Values("loss", golden["loss"], [loss]);
        check.Matrix("dx", golden["dx"], dx);
        for (int i = 0; i < linears.Length; i++)
        {
            check.Matrix($"dW{i}", golden[$"dW{i}"], linears[i].Weight.Gradient);
            check.Matrix($"db{i}", golden[$"db{i}"], linears[i].Bias!.Gradient);
        }

        var losses = new double[3];
        for (int k = 0; k < losses.Length; k++) losses[k] = net.TrainStep(golden.Batch<T>("x", k), golden.Batch<T>("y", k));
        check.Values("losses", golden["losses"], losses);
        for (int i = 0; i < linears.Length; i++)
        {
            check.Matrix($"W{i}_after", golden[$"W{i}_after"], linears[i].Weight.Value);
            check.Matrix($"b{i}_after", golden[$"b{i}_after"], linears[i].Bias!.Value);
        }

        output.WriteLine(check.Summary);
        check.AssertAll();
    }

    private sealed record GoldenTensor(int[] Shape, double[] Data);

    private sealed class GoldenCase
    {
        private readonly Dictionary<string, GoldenTensor> _tensors;

        private GoldenCase(string name, Loss loss, double reg, double lr, int batch, int[] sizes, Dictionary<string, GoldenTensor> tensors) =>
            (Name, Loss, Reg, Lr, BatchSize, Sizes, _tensors) = (name, loss, reg, lr, batch, sizes, tensors);

        public string Name { get; }
        public Loss Loss { get; }
        public double Reg { get; }
        public double Lr { get; }
        public int BatchSize { get; }
        public int[] Sizes { get; }

        public GoldenTensor this[string tensor] =>
            _tensors.TryGetValue(tensor, out var value) ? value : throw new KeyNotFoundException($"{Name}: no tensor \"{tensor}\" in the golden file.");

        public static GoldenCase Load(string path)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var root = document.RootElement;
            var tensors = new Dictionary<string, GoldenTensor>();
            foreach (var property in root.GetProperty("tensors").EnumerateObject())
                tensors.Add(property.Name, new GoldenTensor(
                    [.. property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())],
                    [.. property.Value.GetProperty("data").EnumerateArray().Select(e => e.GetDouble())]));
            var loss = root.GetProperty("loss").GetString() switch
            {
                "l2" => Loss.L2,
                "ce" => Loss.CrossEntropy,
                var other => throw new InvalidDataException($"{path}: unknown loss \"{other}\"."),
            };
            return new GoldenCase(
                root.GetProperty("case").GetString()!, loss, root.GetProperty("reg").GetDouble(), root.GetProperty("lr").GetDouble(),
                root.GetProperty("batch").GetInt32(), [.. root.GetProperty("sizes").EnumerateArray().Select(e => e.GetInt32())], tensors);
        }

        /// <summary>Rows k·B .. (k+1)·B − 1 of a (3B, cols) tensor.</summary>
        public Matrix<T> Batch<T>(string tensor, int k) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var golden = this[tensor];
            int cols = golden.Shape[1];
            var result = new Matrix<T>(BatchSize, cols);
            var source = golden.Data.AsSpan(k * BatchSize * cols, BatchSize * cols);
            for (int i = 0; i < source.Length; i++) result.Span[i] = T.CreateChecked(source[i]);
            return result;
        }

        public void CopyInto<T>(string tensor, Matrix<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var golden = this[tensor];
            Assert.True(golden.Data.Length == destination.Length, $"{Name}: {tensor} has {golden.Data.Length} values, the layer's tensor {destination.Shape}.");
            for (int i = 0; i < golden.Data.Length; i++) destination.Span[i] = T.CreateChecked(golden.Data[i]);
        }
    }

    // Collects every tensor's worst scaled error and every failure, so one run reports them all.
    private sealed class Comparison(string caseName, string dtype, double tolerance)
    {
        private readonly List<string> _failures = [];
        private double _worstScaled;
        private string _worstTensor = "";

        public string Summary => string.Create(CultureInfo.InvariantCulture,
            $"{caseName} {dtype}: worst |a − e| / max(1, max|e|) = {_worstScaled:E2} (in {_worstTensor}), tolerance {tolerance:E0}");

        public void Matrix<T>(string tensor, GoldenTensor expected, Matrix<T> actual) where T : unmanaged, IFloatingPointIeee754<T>
        {
            // Golden shapes are [rows, cols], [cols] for biases (our (1, cols)) or [] for scalars.
            int rows = expected.Shape.Length == 2 ? expected.Shape[0] : 1;
            int cols = expected.Shape.Length >= 1 ? expected.Shape[^1] : 1;
            if (actual.Rows != rows || actual.Cols != cols)
            {
                _failures.Add($"{caseName} {dtype}: {tensor} has shape {actual.Shape}, expected [{string.Join(", ", expected.Shape)}].");
                return;
            }
            var values = new double[actual.Length];
            for (int i = 0; i < values.Length; i++) values[i] = double.CreateChecked(actual.Span[i]);
            Values(tensor, expected, values, cols);
        }

        public void Values(string tensor, GoldenTensor expected, double[] actual, int cols = 0)
        {
            if (actual.Length != expected.Data.Length)
            {
                _failures.Add($"{caseName} {dtype}: {tensor} has {actual.Length} values, expected {expected.Data.Length}.");
                return;
            }
            double scale = Math.Max(1, expected.Data.Max(Math.Abs));
            double bound = tolerance * scale;
            int worst = 0, bad = 0;
            double largest = -1;
            for (int i = 0; i < actual.Length; i++)
            {
                double difference = Math.Abs(actual[i] - expected.Data[i]);
                if (double.IsNaN(difference)) difference = double.PositiveInfinity;
                if (difference > bound) bad++;
                if (difference > largest) (largest, worst) = (difference, i);
            }
            if (largest / scale > _worstScaled) (_worstScaled, _worstTensor) = (largest / scale, tensor);
            if (bad == 0) return;
            string index = cols > 0 ? $"[{worst / cols}, {worst % cols}]" : $"[{worst}]";
            _failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{caseName} {dtype}: {tensor}{index}: expected {expected.Data[worst]:R}, actual {actual[worst]:R}; " +
                $"largest difference {largest:E3} > {tolerance:E0} · max(1, max|e|) = {bound:E3} ({bad} of {actual.Length} elements out of tolerance)."));
        }

        public void AssertAll()
        {
            if (_failures.Count > 0) Assert.Fail(string.Join(Environment.NewLine, _failures));
        }
    }
}
