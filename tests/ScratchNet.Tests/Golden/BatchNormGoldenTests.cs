using ScratchNet.Layers;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// BatchNorm1d against torch.nn.BatchNorm1d in float64 (tools/golden/make_batchnorm_golden.py): a training
/// step's output and gradients, the running estimates after two training batches, and an inference pass
/// with its gradients. |actual − expected| ≤ 1e-10 · max(1, |expected|).
/// </summary>
public class BatchNormGoldenTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-10;

    [Fact]
    public void BatchNormMatchesTorch()
    {
        using var golden = new GoldenJson(Path.Combine("Golden", "Layers", "batchnorm.json"), Tolerance);
        double[] Data(string name) => golden.Data(name);
        Matrix<double> Matrix(string name)
        {
            var shape = golden.Shape(name);
            return shape.Length == 1 ? new Matrix<double>(1, shape[0], Data(name)) : new Matrix<double>(shape[0], shape[1], Data(name));
        }
        void Compare(string name, ReadOnlySpan<double> actual) => golden.Compare(name, actual);

        var x1 = Matrix("x1");
        var layer = new BatchNorm1d<double>(x1.Cols, golden.Root.GetProperty("momentum").GetDouble(), golden.Root.GetProperty("eps").GetDouble());
        Data("weight").CopyTo(layer.Weight.Value.Span);
        Data("bias").CopyTo(layer.Bias.Value.Span);
        Data("running_mean_0").CopyTo(layer.RunningMean.Span);
        Data("running_var_0").CopyTo(layer.RunningVariance.Span);

        layer.Training = true;
        Compare("y1", layer.Forward(x1).Span);
        Compare("dx1", layer.Backward(Matrix("g1")).Span);
        Compare("dweight1", layer.Weight.Gradient.Span);
        Compare("dbias1", layer.Bias.Gradient.Span);
        layer.Forward(Matrix("x2"));
        Compare("running_mean", layer.RunningMean.Span);
        Compare("running_var", layer.RunningVariance.Span);

        layer.Training = false;
        foreach (var p in layer.Parameters) p.ZeroGradient();
        Compare("y3", layer.Forward(Matrix("x3")).Span);
        Compare("dx3", layer.Backward(Matrix("g3")).Span);
        Compare("dweight3", layer.Weight.Gradient.Span);
        Compare("dbias3", layer.Bias.Gradient.Span);
        output.WriteLine($"batchnorm vs torch: worst scaled error {golden.Worst:E2}");
    }
}
