using System.Globalization;
using System.Numerics;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// Optimisers, gradient clipping and schedules against torch.optim / torch.optim.lr_scheduler
/// (tools/golden/make_optimizer_golden.py): the same parameters and the same five gradients on both
/// sides, parameters compared after every step; schedules' rates compared over ten epochs. Float64:
/// |actual − expected| ≤ 1e-6 · max(1, |expected|); float32: 1e-5.
/// </summary>
public class OptimizerGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-6;

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Golden", "Optimizers");

    private static readonly string[] ExpectedOptimizerCases =
    [
        "sgd_momentum", "sgd_nesterov", "adam", "adam_betas", "adamw", "rmsprop", "rmsprop_momentum", "clip_sgd_momentum", "clip_adam",
        "sgd_nesterov_wd", "sgd_nesterov_groups", "sgd_nesterov_decoupled", "adamw_groups",
        "sgd_nesterov_wd_frozen_bias", "clip_adam_frozen_bias",
    ];

    private static readonly string[] ExpectedSchedules =
        ["step", "exponential", "warmup_cosine", "cosine_no_warmup", "plateau", "plateau_max", "triangular", "triangular_late", "one_cycle", "one_cycle_short"];

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
    public void OptimizerMatchesTorch(string name) => CompareOptimizer<double>(name, Tolerance);

    /// <summary>The same in float32 (inputs are float32-exact), within 1e-5.</summary>
    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void Float32OptimizerMatchesTorch(string name) => CompareOptimizer<float>(name, 1e-5);

    private void CompareOptimizer<T>(string name, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, $"optim_{name}.json")));
        var root = document.RootElement;
        var tensors = root.GetProperty("tensors");
        var config = root.GetProperty("config");
        double? clip = root.GetProperty("clip").ValueKind == JsonValueKind.Null ? null : root.GetProperty("clip").GetDouble();
        var optimizer = Create<T>(root.GetProperty("optimizer").GetString()!, config);

        var weight = new Parameter<T>("weight", Load<T>(tensors, "W", 3, 4), regularized: true);
        var bias = new Parameter<T>("bias", Load<T>(tensors, "b", 1, 4), regularized: false);
        // torch's second parameter group, as airbench's biases: lr × scale and a weight decay of their own.
        if (config.TryGetProperty("bias_lr_scale", out var scale))
        {
            bias.LearningRateScale = scale.GetDouble();
            bias.WeightDecay = Get(config, "bias_weight_decay");
        }
        Parameter<T>[] parameters = [weight, bias];
        // torch's requires_grad = False from a step on: the bias is still fed that step's gradient, and must ignore it.
        int freezeBiasFrom = config.TryGetProperty("freeze_bias_from", out var from) ? from.GetInt32() : int.MaxValue;
        var failures = new List<string>();
        double worst = 0;
        string worstAt = "";
        for (int k = 0; k < root.GetProperty("steps").GetInt32(); k++)
        {
            Load<T>(tensors, $"dW_{k}", 3, 4).Span.CopyTo(weight.Gradient.Span);
            Load<T>(tensors, $"db_{k}", 1, 4).Span.CopyTo(bias.Gradient.Span);
            bias.Frozen = k >= freezeBiasFrom;
            if (clip is double maxNorm)
            {
                double norm = GradientClipping.ClipByGlobalNorm(parameters, maxNorm);
                Compare("norm", [Data(tensors, "norms")[k]], [norm]);
            }
            optimizer.Step(parameters);
            Compare("W", Data(tensors, $"W_{k}"), ToDoubles(weight.Value));
            Compare("b", Data(tensors, $"b_{k}"), ToDoubles(bias.Value));

            void Compare(string tensor, double[] expected, double[] actual)
            {
                for (int i = 0; i < expected.Length; i++)
                {
                    double error = Math.Abs(actual[i] - expected[i]) / Math.Max(1, Math.Abs(expected[i]));
                    if (double.IsNaN(error)) error = double.PositiveInfinity;
                    if (error > worst) (worst, worstAt) = (error, $"step {k} {tensor}[{i}]");
                    if (error > tolerance)
                        failures.Add(string.Create(CultureInfo.InvariantCulture,
                            $"{name} ({optimizer.GetType().Name}, {typeof(T).Name}): step {k}, {tensor}[{i}]: expected {expected[i]:R}, actual {actual[i]:R}, scaled error {error:E2}"));
                }
            }
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} {typeof(T).Name}: worst scaled error {worst:E2} at {worstAt}"));
        Assert.True(failures.Count == 0, $"{failures.Count} values out of tolerance {tolerance:E0}; worst at {worstAt}:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(10))}");
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
            case "triangular" or "one_cycle":
                IStepSchedule perStep = entry.GetProperty("kind").GetString() == "triangular"
                    ? new Triangular(Get(c, "lr"), Get(c, "peak"), Get(c, "start"), Get(c, "end"))
                    : new OneCycle(Get(c, "lr"), Get(c, "pct_start"), Get(c, "div_factor"), Get(c, "final_div_factor"));
                for (int step = 0; step < actual.Length; step++) actual[step] = perStep.RateAt(step, actual.Length);
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

    private static StatefulOptimizer<T> Create<T>(string optimizer, JsonElement c) where T : unmanaged, IFloatingPointIeee754<T> => optimizer switch
    {
        "sgd" => new SgdMomentum<T>(Get(c, "lr"), Get(c, "momentum"), c.TryGetProperty("nesterov", out var n) && n.GetBoolean(),
            c.TryGetProperty("weight_decay", out var wd) ? wd.GetDouble() : 0, c.TryGetProperty("decoupled", out var d) && d.GetBoolean()),
        "adam" => new Adam<T>(Get(c, "lr"), Beta(c, 0), Beta(c, 1), Get(c, "eps")),
        "adamw" => new AdamW<T>(Get(c, "lr"), Beta(c, 0), Beta(c, 1), Get(c, "eps"), Get(c, "weight_decay")),
        "rmsprop" => new RmsProp<T>(Get(c, "lr"), Get(c, "alpha"), Get(c, "eps"), c.TryGetProperty("momentum", out var m) ? m.GetDouble() : 0),
        _ => throw new InvalidDataException($"Unknown optimizer {optimizer}."),
    };

    private static double Get(JsonElement config, string name) => config.GetProperty(name).GetDouble();

    private static double Beta(JsonElement config, int i) => config.GetProperty("betas")[i].GetDouble();

    private static double[] Data(JsonElement tensors, string name) => [.. tensors.GetProperty(name).GetProperty("data").EnumerateArray().Select(e => e.GetDouble())];

    private static Matrix<T> Load<T>(JsonElement tensors, string name, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T> =>
        new(rows, cols, [.. Data(tensors, name).Select(T.CreateChecked)]);

    private static double[] ToDoubles<T>(Matrix<T> tensor) where T : unmanaged, IFloatingPointIeee754<T> =>
        [.. tensor.Span.ToArray().Select(double.CreateChecked)];
}
