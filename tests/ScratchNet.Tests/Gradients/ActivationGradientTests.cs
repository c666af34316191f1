using ScratchNet.Layers;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Gradients;

/// <summary>
/// Sigmoid, Tanh, LeakyReLU and GELU: Backward against central differences (as LayerGradientTests, random
/// upstream gradient), and Forward against PyTorch's values at a few points (float64, printed by
/// torch.sigmoid, torch.tanh, leaky_relu(x, 0.1), gelu(x, approximate='tanh') and the exact gelu(x)).
/// </summary>
public class ActivationGradientTests
{
    private static readonly double[] Points = [-3.0, -0.5, 0.0, 0.7, 2.0];

    public static TheoryData<string, int> Cases() => new()
    {
        { "sigmoid", 1 }, { "sigmoid", 5 }, { "tanh", 1 }, { "tanh", 5 },
        { "leaky_relu", 1 }, { "leaky_relu", 5 }, { "gelu", 1 }, { "gelu", 5 },
        { "gelu_exact", 1 }, { "gelu_exact", 5 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string kind, int batch)
    {
        var rng = new Rng(500 + (ulong)batch + (ulong)kind.Length * 10);
        var layer = Create(kind, 7);
        Assert.Equal(kind.Replace("_exact", ""), layer.Kind);
        // Away from zero for the leaky ReLU's kink (steps are a few 1e-6).
        var x = NormalAwayFromZero(rng, batch, 7, margin: 1e-2);
        x.Span[0] *= 3;   // one far into the saturating tails
        var g = Normal(rng, batch, 7);   // dL/d output, random
        layer.Forward(x);
        var dx = layer.Backward(g).ToArray();
        var numeric = Numeric(() => Dot(layer.Forward(x), g), x);
        double rel = RelativeError(dx, numeric);
        Assert.True(rel < DefaultTolerance, $"{kind} B={batch} d/dx: relative error {rel:E2} ≥ {DefaultTolerance:E0}");
    }

    [Theory]
    [InlineData("sigmoid", new[] { 0.04742587317756678, 0.3775406687981454, 0.5, 0.6681877721681662, 0.8807970779778823 })]
    [InlineData("tanh", new[] { -0.9950547536867305, -0.46211715726000974, 0.0, 0.6043677771171635, 0.9640275800758169 })]
    [InlineData("leaky_relu", new[] { -0.30000000000000004, -0.05, 0.0, 0.7, 2.0 })]
    [InlineData("gelu", new[] { -0.0036373920817729943, -0.15428599017485606, 0.0, 0.5305701347051167, 1.954597694087775 })]
    [InlineData("gelu_exact", new[] { -0.00404969409489031, -0.15426876936299344, 0.0, 0.5306254434438489, 1.9544997361036416 })]
    public void ForwardMatchesPyTorch(string kind, double[] expected)
    {
        var layer = Create(kind, Points.Length);
        var y = layer.Forward(new Matrix<double>(1, Points.Length, Points));
        for (int i = 0; i < Points.Length; i++)
            Assert.True(Math.Abs(y.Span[i] - expected[i]) <= 1e-12, $"{kind}({Points[i]}) = {y.Span[i]:R}, PyTorch {expected[i]:R}");
    }

    [Fact]
    public void FloatLayersAgreeWithDouble()
    {
        foreach (string kind in new[] { "sigmoid", "tanh", "leaky_relu", "gelu", "gelu_exact" })
        {
            Layer<float> single = kind switch
            {
                "sigmoid" => new Sigmoid<float>(5), "tanh" => new Tanh<float>(5), "leaky_relu" => new LeakyRelu<float>(5, 0.1),
                "gelu_exact" => new Gelu<float>(5, GeluApproximation.None), _ => new Gelu<float>(5),
            };
            var reference = Create(kind, 5);
            var y = single.Forward(new Matrix<float>(1, 5, Points.Select(p => (float)p).ToArray()));
            var dx = single.Backward(new Matrix<float>(1, 5, [1f, -2f, 0.5f, 3f, -1f]));
            var yRef = reference.Forward(new Matrix<double>(1, 5, Points));
            var dxRef = reference.Backward(new Matrix<double>(1, 5, [1, -2, 0.5, 3, -1]));
            for (int i = 0; i < 5; i++)
            {
                Assert.True(Math.Abs(y.Span[i] - yRef.Span[i]) < 1e-6, $"{kind} forward [{i}]");
                Assert.True(Math.Abs(dx.Span[i] - dxRef.Span[i]) < 1e-5, $"{kind} backward [{i}]");
            }
        }
    }

    [Fact]
    public void LeakyReluRejectsSlopesOutsideZeroToOne() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LeakyRelu<double>(3, negativeSlope: -0.1));

    private static Layer<double> Create(string kind, int size) => kind switch
    {
        "sigmoid" => new Sigmoid<double>(size),
        "tanh" => new Tanh<double>(size),
        "leaky_relu" => new LeakyRelu<double>(size, negativeSlope: 0.1),
        "gelu" => new Gelu<double>(size),
        "gelu_exact" => new Gelu<double>(size, GeluApproximation.None),
        _ => throw new ArgumentException(kind),
    };
}
