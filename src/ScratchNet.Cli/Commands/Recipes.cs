using ScratchNet.Losses;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// Settings that fit one dataset; every <c>train</c> option left out takes its value from the dataset's recipe.
/// The toy recipes are the report's experiments where it has one; the image datasets use the report's network.
/// </summary>
public sealed record Recipe(
    string Dataset, string Description, int[] HiddenLayers, Loss Loss, double LearningRate, double Regularization,
    int Epochs, int BatchSize, double[]? Init)
{
    /// <summary>Names accepted by <c>--dataset</c>, besides <c>npz:PATH</c> and <c>csv:PATH</c>.</summary>
    public static readonly string[] DatasetNames = ["digits", "linear", "folded", "square", "patterns", "fashion-mnist", "mnist", "cifar-10", "cifar-100"];

    /// <summary>Prefixes of <c>--dataset</c> values that name a file.</summary>
    public static readonly string[] FilePrefixes = ["npz:", "csv:"];

    // The report's 784-800-300-10 (3072-800-300-k for CIFAR) network: w = 0.001, 0.0025, 0.03 per linear layer.
    private static readonly int[] ReportHidden = [800, 300];
    private static readonly double[] ReportInit = [0.001, 0.0025, 0.03];

    /// <summary>The recipe for <paramref name="dataset"/>: one of <see cref="DatasetNames"/>, or a file (npz:PATH, csv:PATH).</summary>
    public static Recipe For(string dataset) => dataset switch
    {
        "digits" => new("digits", "UCI handwritten digits (embedded, 1,797 samples, 8×8)", [128, 64], Loss.CrossEntropy, 0.1, 1e-4, 30, 32, null),
        // The report's section 3: 2-10-2, L2, reg 0.01, lr 0.001, batch 1, 10 epochs, w = 0.05. Its printed losses (0.003)
        // leave out the penalty λ·ΣW² (~0.044 here), which ours include; its 0.999 is 0.9985 rounded, and seed-dependent (README, report).
        "linear" => new("linear", "linear rotation (report, 10,000 points)", [10], Loss.L2, 0.001, 0.01, 10, 1, [0.05, 0.05]),
        "folded" => new("folded", "folded rotation (10,000 points)", [32], Loss.L2, 0.001, 1e-4, 10, 1, null),
        "square" => new("square", "square insideness (2,000 points, 2 classes)", [32, 32], Loss.CrossEntropy, 0.05, 0, 100, 16, null),
        "patterns" => new("patterns", "two patterns (1,000 samples, 2 classes)", [8], Loss.CrossEntropy, 0.1, 0, 5, 1, null),
        // The report's section 4 (Fashion-MNIST): reg 1e-5, lr 0.001, batch 1, 50 epochs; MNIST takes the same.
        "fashion-mnist" or "mnist" => new(dataset, dataset == "mnist" ? "MNIST handwritten digits (28×28)" : "Fashion-MNIST (28×28)",
            ReportHidden, Loss.CrossEntropy, 0.001, 1e-5, 50, 1, ReportInit),
        // The report's section 5 (CIFAR-10): reg 1e-4, lr 2e-4, batch 1, 50 epochs; CIFAR-100 takes the same.
        "cifar-10" or "cifar-100" => new(dataset, dataset == "cifar-10" ? "CIFAR-10 (32×32×3)" : "CIFAR-100 (32×32×3)",
            ReportHidden, Loss.CrossEntropy, 0.0002, 1e-4, 50, 1, ReportInit),
        _ when IsFile(dataset) => new(dataset, $"{dataset[..3]} file {dataset[4..]}", [128, 64], Loss.CrossEntropy, 0.01, 0, 20, 32, null),
        _ => throw new UsageException($"--dataset: unknown dataset '{dataset}'; expected one of {Expected}."),
    };

    /// <summary>Lists the accepted <c>--dataset</c> values, for messages.</summary>
    public static string Expected => $"{string.Join(", ", DatasetNames)}, npz:PATH, csv:PATH";

    /// <summary>Whether <paramref name="dataset"/> names a file: a known prefix and a path after it.</summary>
    public static bool IsFile(string dataset) =>
        FilePrefixes.Any(p => dataset.StartsWith(p, StringComparison.Ordinal) && dataset.Length > p.Length);
}
