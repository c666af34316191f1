using ScratchNet.Layers;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// Nested <see cref="Sequential{T}"/> and <see cref="Residual{T}"/> blocks against a torch nn.Module with the same
/// state-dict names (tools/golden/make_residual_golden.py), float64: output, input gradient and every parameter's
/// gradient within 1e-10 · max(1, |expected|). Loading the weights by name also proves the names are PyTorch's.
/// </summary>
public class ResidualGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-10;

    /// <summary>The golden file's network: linear 5→6, an identity-skip block, a projected block to 4.</summary>
    internal static Layer<double>[] Blocks() =>
    [
        new Linear<double>(new Matrix<double>(6, 5), new Matrix<double>(1, 6), regularized: false),
        new Residual<double>(new Sequential<double>(Linear(6, 6), new Tanh<double>(6), Linear(6, 6))),
        new Residual<double>(new Sequential<double>(Linear(6, 4), new Sigmoid<double>(4)), projection: Linear(6, 4)),
    ];

    private static Linear<double> Linear(int inputs, int outputs) =>
        new(new Matrix<double>(outputs, inputs), new Matrix<double>(1, outputs), regularized: false);

    [Fact]
    public void NestedBlocksMatchTorch()
    {
        using var golden = new GoldenJson(Path.Combine("Golden", "Layers", "residual.json"), Tolerance);
        Matrix<double> Rows(string name, int cols) { var data = golden.Data(name); return new Matrix<double>(data.Length / cols, cols, data); }

        var net = new Sequential<double>(Blocks());
        var state = ModuleState.Entries(net.Layers);
        Assert.Equal(["0.weight", "0.bias", "1.body.0.weight", "1.body.0.bias", "1.body.2.weight", "1.body.2.bias",
                      "2.body.0.weight", "2.body.0.bias", "2.projection.weight", "2.projection.bias"], state.Select(e => e.Name));
        foreach (var entry in state) golden.Data(entry.Name).CopyTo(entry.Value.Span);

        golden.Compare("y", net.Forward(Rows("x", 5)).Span);
        golden.Compare("dx", net.Backward(Rows("g", 4)).Span);
        foreach (var entry in state) golden.Compare($"grad.{entry.Name}", entry.Parameter!.Gradient.Span);
        output.WriteLine($"residual blocks vs torch: worst scaled error {golden.Worst:E2}");
    }
}
