using System.Numerics;
using ScratchNet.Data;
using ScratchNet.Losses;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// Settings that fit one dataset; every <c>train</c> option left out takes its value from the dataset's recipe.
/// The toy recipes are the report's experiments where it has one.
/// </summary>
public sealed record Recipe(
    string Dataset, string Description, int[] HiddenLayers, Loss Loss, double LearningRate, double Regularization,
    int Epochs, int BatchSize, double[]? Init)
{
    /// <summary>Names accepted by <c>--dataset</c>.</summary>
    public static readonly string[] DatasetNames = ["digits", "linear", "folded", "square", "patterns"];

    /// <summary>The recipe for <paramref name="dataset"/> (one of <see cref="DatasetNames"/>).</summary>
    public static Recipe For(string dataset) => dataset switch
    {
        "digits" => new("digits", "UCI handwritten digits (embedded, 1,797 samples, 8×8)", [128, 64], Loss.CrossEntropy, 0.1, 1e-4, 30, 32, null),
        // The report's section 3: 2-10-2, L2, reg 0.01, lr 0.001, batch 1, 10 epochs, w = 0.05.
        "linear" => new("linear", "linear rotation (report, 10,000 points)", [10], Loss.L2, 0.001, 0.01, 10, 1, [0.05, 0.05]),
        "folded" => new("folded", "folded rotation (10,000 points)", [32], Loss.L2, 0.001, 1e-4, 10, 1, null),
        "square" => new("square", "square insideness (2,000 points, 2 classes)", [32, 32], Loss.CrossEntropy, 0.05, 0, 100, 16, null),
        "patterns" => new("patterns", "two patterns (1,000 samples, 2 classes)", [8], Loss.CrossEntropy, 0.1, 0, 5, 1, null),
        _ => throw new UsageException($"--dataset: unknown dataset '{dataset}'; expected one of {string.Join(", ", DatasetNames)}."),
    };

    /// <summary>Loads or generates the dataset, seeded by <paramref name="seed"/> where it is synthetic.</summary>
    public Dataset<T> Load<T>(ulong seed) where T : unmanaged, IFloatingPointIeee754<T> => Dataset switch
    {
        "digits" => Digits.Load<T>(),
        "linear" => ToyData.Linear<T>(seed: seed),
        "folded" => ToyData.Folded<T>(seed: seed),
        "square" => ToyData.Square<T>(seed: seed),
        "patterns" => ToyData.Patterns<T>(seed: seed),
        _ => throw new UsageException($"--dataset: unknown dataset '{Dataset}'."),
    };
}
