using System.Globalization;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// Optimisers, gradient clipping and schedules against torch.optim / torch.optim.lr_scheduler
/// (tools/golden/make_optimizer_golden.py): the same parameters and the same five gradients on both
/// sides, parameters compared after every step; schedules' rates compared over ten epochs. Float64,
/// |actual − expected| ≤ 1e-6 · max(1, |expected|).
/// </summary>
public class OptimizerGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-6;

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Golden", "Optimizers");

    private static readonly string[] ExpectedOptimizerCases =
    [
        "sgd_momentum", "sgd_nesterov", "adam", "adam_betas", "adamw", "rmsprop", "rmsprop_momentum", "clip_sgd_momentum", "clip_adam",
    ];

    private static readonly string[] ExpectedSchedules = ["step", "exponential", "warmup_cosine", "cosine_no_warmup", "plateau", "plateau_max"];

    /// <summary>Every optimiser case expected in the folder.</summary>
    public static TheoryData<string> OptimizerCases() => new(ExpectedOptimizerCases);

    /// <summary>Every schedule expected in the schedule file.</summary>
    public static TheoryData<string> Schedules() => new(ExpectedSchedules);

    [Fact]
    public void EveryGoldenFileIsTested()
    {
        var found = Directory.EnumerateFiles(Folder, "optim_*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).ToArray();
        var expected = ExpectedOptimizerCases.Select(c => "optim_" + c).Append("optim_schedules").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, found);
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void OptimizerMatchesTorch(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, $"optim_{name}.json")));
        var root = document.RootElement;
        var tensors = root.GetProperty("tensors");
        var config = root.GetProperty("config");
        double? clip = root.GetProperty("clip").ValueKind == JsonValueKind.Null ? null : root.GetProperty("clip").GetDouble();
        var optimizer = Create(root.GetProperty("optimizer").GetString()!, config);

        var weight = new Parameter<double>("weight", Load(tensors, "W", 3, 4), regularized: true);
        var bias = new Parameter<double>("bias", Load(tensors, "b", 1, 4), regularized: false);
        Parameter<double>[] parameters = [weight, bias];
        var failures = new List<string>();
        double worst = 0;
        string worstAt = "";
        for (int k = 0; k < root.GetProperty("steps").GetInt32(); k++)
        {
            Load(tensors, $"dW_{k}", 3, 4).Span.CopyTo(weight.Gradient.Span);
            Load(tensors, $"db_{k}", 1, 4).Span.CopyTo(bias.Gradient.Span);
            if (clip is double maxNorm)
            {
                double norm = GradientClipping.ClipByGlobalNorm(parameters, maxNorm);
                Compare($"norm", [Data(tensors, "norms")[k]], [norm]);
            }
            optimizer.Step(parameters);
            Compare($"W", Data(tensors, $"W_{k}"), weight.Value.Span.ToArray());
            Compare($"b", Data(tensors, $"b_{k}"), bias.Value.Span.ToArray());

            void Compare(string tensor, double[] expected, double[] actual)
            {
                for (int i = 0; i < expected.Length; i++)
                {
                    double error = Math.Abs(actual[i] - expected[i]) / Math.Max(1, Math.Abs(expected[i]));
                    if (double.IsNaN(error)) error = double.PositiveInfinity;
                    if (error > worst) (worst, worstAt) = (error, $"step {k} {tensor}[{i}]");
                    if (error > Tolerance)
                        failures.Add(string.Create(CultureInfo.InvariantCulture,
                            $"{name} ({optimizer.GetType().Name}): step {k}, {tensor}[{i}]: expected {expected[i]:R}, actual {actual[i]:R}, scaled error {error:E2}"));
                }
            }
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: worst scaled error {worst:E2} at {worstAt}"));
        Assert.True(failures.Count == 0, $"{failures.Count} values out of tolerance {Tolerance:E0}; worst at {worstAt}:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(10))}");
    }

    [Theory]
    [MemberData(nameof(Schedules))]
    public void ScheduleMatchesTorch(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "optim_schedules.json")));
        var entry = document.RootElement.GetProperty("schedules").GetProperty(name);
        var c = entry.GetProperty("config");
        double[] expected = [.. entry.GetProperty("rates").EnumerateArray().Select(e => e.GetDouble())];
        var actual = new double[expected.Length];
        switch (entry.GetProperty("kind").GetString())
        {
            case "plateau":
                var plateau = new ReduceOnPlateau(Get(c, "lr"), Get(c, "factor"), c.GetProperty("patience").GetInt32(), Get(c, "threshold"),
                    c.GetProperty("cooldown").GetInt32(), Get(c, "min_lr"), maximize: c.TryGetProperty("mode", out var mode) && mode.GetString() == "max");
                double[] metrics = [.. c.GetProperty("metrics").EnumerateArray().Select(e => e.GetDouble())];
                for (int e = 0; e < actual.Length; e++)
                {
                    actual[e] = plateau.Rate;
                    plateau.Observe(metrics[e]);
                }
                break;
            default:
                ILearningRateSchedule schedule = entry.GetProperty("kind").GetString() switch
                {
                    "step" => new StepDecay(Get(c, "lr"), c.GetProperty("step_size").GetInt32(), Get(c, "gamma")),
                    "exponential" => new ExponentialDecay(Get(c, "lr"), Get(c, "gamma")),
                    "warmup_cosine" => new WarmupCosine(Get(c, "lr"), c.GetProperty("warmup").GetInt32(), c.GetProperty("total").GetInt32(),
                        Get(c, "eta_min"), Get(c, "start_factor")),
                    var other => throw new InvalidDataException($"Unknown schedule kind {other}."),
                };
                for (int e = 0; e < actual.Length; e++) actual[e] = schedule.RateAt(e);
                break;
        }
        double worst = 0;
        int worstEpoch = 0;
        for (int e = 0; e < expected.Length; e++)
        {
            double error = Math.Abs(actual[e] - expected[e]) / Math.Max(1, Math.Abs(expected[e]));
            if (!(error <= worst)) (worst, worstEpoch) = (error, e);
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: worst error {worst:E2} at epoch {worstEpoch}"));
        Assert.True(worst <= Tolerance, string.Create(CultureInfo.InvariantCulture,
            $"{name}: epoch {worstEpoch}: expected {expected[worstEpoch]:R}, actual {actual[worstEpoch]:R}; all expected [{string.Join(", ", expected)}], actual [{string.Join(", ", actual)}]"));
    }

    private static StatefulOptimizer<double> Create(string optimizer, JsonElement c) => optimizer switch
    {
        "sgd" => new SgdMomentum<double>(Get(c, "lr"), Get(c, "momentum"), c.TryGetProperty("nesterov", out var n) && n.GetBoolean()),
        "adam" => new Adam<double>(Get(c, "lr"), Beta(c, 0), Beta(c, 1), Get(c, "eps")),
        "adamw" => new AdamW<double>(Get(c, "lr"), Beta(c, 0), Beta(c, 1), Get(c, "eps"), Get(c, "weight_decay")),
        "rmsprop" => new RmsProp<double>(Get(c, "lr"), Get(c, "alpha"), Get(c, "eps"), c.TryGetProperty("momentum", out var m) ? m.GetDouble() : 0),
        _ => throw new InvalidDataException($"Unknown optimizer {optimizer}."),
    };

    private static double Get(JsonElement config, string name) => config.GetProperty(name).GetDouble();

    private static double Beta(JsonElement config, int i) => config.GetProperty("betas")[i].GetDouble();

    private static double[] Data(JsonElement tensors, string name) => [.. tensors.GetProperty(name).GetProperty("data").EnumerateArray().Select(e => e.GetDouble())];

    private static Tensor<double> Load(JsonElement tensors, string name, int rows, int cols) => new(rows, cols, Data(tensors, name));
}
