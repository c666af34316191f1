using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Tests.Networks;

/// <summary><see cref="Network{T}"/> construction: Build's errors and warnings, Add's width check, initialisation.</summary>
public class NetworkBuildTests
{
    [Fact]
    public void NoLayersIsABuildError()
    {
        var net = new Network<float>(2, 2);
        var e = Assert.Throws<NetworkBuildException>(net.Build);
        Assert.Contains("no layers", e.Message);
        Assert.Throws<NetworkBuildException>(() => net.Predict(new Matrix<float>(1, 2)));
        Assert.Throws<NetworkBuildException>(() => net.Evaluate(new Matrix<float>(1, 2), new Matrix<float>(1, 2)));
    }

    [Fact]
    public void LastWidthOtherThanOutputsNamesLastLayerWidthSetterAndOutputs()
    {
        var net = new Network<float>(2, 3);
        net.AddLinear(10, w: 0.1);
        net.AddRelu();
        net.AddLinear(2, w: 0.1);
        net.AddRelu();
        var e = Assert.Throws<NetworkBuildException>(net.Build);
        Assert.Contains("#3 relu(2 -> 2)", e.Message);
        Assert.Contains("layer #2 linear(10 -> 2) sets it", e.Message);
        Assert.Contains("declares 3 outputs", e.Message);
        Assert.Contains("outputs 2 features", e.Message);
    }

    [Fact]
    public void LastWidthErrorWhenNoLayerChangesTheWidth()
    {
        var net = new Network<double>(2, 3);
        net.AddRelu();
        var e = Assert.Throws<NetworkBuildException>(net.Build);
        Assert.Contains("#0 relu(2 -> 2)", e.Message);
        Assert.Contains("no layer changes the width", e.Message);
    }

    [Fact]
    public void BuildErrorIsFixedByAddingTheMissingLayer()
    {
        var net = new Network<float>(2, 3);
        net.AddLinear(4, w: 0.1);
        Assert.Throws<NetworkBuildException>(net.Build);
        net.AddRelu();
        net.AddLinear(3, w: 0.1);
        net.Build();
        Assert.Equal((5, 3), net.Predict(new Matrix<float>(5, 2)).Shape);
    }

    [Fact]
    public void CrossEntropyWithoutFinalSoftmaxIsABuildError()
    {
        var net = new Network<float>(2, 2, Loss.CrossEntropy);
        net.AddLinear(2, w: 0.1);
        var e = Assert.Throws<NetworkBuildException>(net.Build);
        Assert.Contains("softmax", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("#0 linear(2 -> 2)", e.Message);

        // A softmax that is not last does not count.
        net.AddSoftmax();
        net.AddLinear(2, w: 0.1);
        e = Assert.Throws<NetworkBuildException>(net.Build);
        Assert.Contains("#2 linear(2 -> 2)", e.Message);
    }

    [Fact]
    public void AddingALayerOfTheWrongInputWidthNamesTheLayerIndex()
    {
        var net = new Network<float>(2, 5);
        var first = Assert.Throws<NetworkBuildException>(() => net.Add(CustomLinear(inputs: 3, outputs: 5)));
        Assert.Contains("Layer #0 linear(3 -> 5)", first.Message);
        Assert.Contains("reads 3 features", first.Message);
        Assert.Contains("the network's 2 inputs", first.Message);
        Assert.Empty(net.Layers);

        net.AddLinear(10, w: 0.1);
        var second = Assert.Throws<NetworkBuildException>(() => net.Add(CustomLinear(inputs: 4, outputs: 5)));
        Assert.Contains("Layer #1 linear(4 -> 5)", second.Message);
        Assert.Contains("layer #0 linear(2 -> 10), which outputs 10", second.Message);
        Assert.Single(net.Layers);
        Assert.Equal(2, net.Parameters.Count);

        net.Add(CustomLinear(inputs: 10, outputs: 5));
        net.Build();
    }

    [Fact]
    public void CustomLinearChecksItsBiasShape() =>
        Assert.Throws<ShapeMismatchException>(() => new Linear<float>(new Matrix<float>(5, 3), new Matrix<float>(1, 4), regularized: false));

    [Fact]
    public void SoftmaxFeedingL2WarnsAndStillTrains()
    {
        var data = ToyData.Patterns<float>(1_000, seed: 1);
        var net = new Network<float>(6, 2, Loss.L2, learningRate: 0.5, seed: 1);
        net.AddLinear(2, w: 0.1);
        net.AddSoftmax();
        net.Build();
        var warning = Assert.Single(net.Warnings);
        Assert.Contains("softmax", warning, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("L2", warning);

        var history = new Trainer<float>(net, data.Features, data.Targets, seed: 1).Train(epochs: 3, batchSize: 8);
        Assert.Equal(1.0, history.Final.ValidationAccuracy);
        Assert.True(history.Final.ValidationLoss < history[0].ValidationLoss / 2, $"{history[0].ToReportLine()}\n{history.Final.ToReportLine()}");
    }

    [Fact]
    public void WellFormedNetworksHaveNoWarnings()
    {
        var l2 = new Network<float>(2, 2, Loss.L2);
        l2.AddLinear(2, w: 0.1);
        l2.Build();
        Assert.Empty(l2.Warnings);
        var ce = new Network<float>(2, 2, Loss.CrossEntropy);
        ce.AddLinear(2, w: 0.1);
        ce.AddSoftmax();
        ce.Build();
        Assert.Empty(ce.Warnings);
    }

    [Theory]
    [InlineData(0, 2, 0.0, 0.1)]
    [InlineData(2, 0, 0.0, 0.1)]
    [InlineData(2, 2, -0.1, 0.1)]
    [InlineData(2, 2, double.NaN, 0.1)]
    [InlineData(2, 2, 0.0, 0.0)]
    [InlineData(2, 2, 0.0, -1.0)]
    [InlineData(2, 2, 0.0, double.PositiveInfinity)]
    public void ConstructorRejectsBadArguments(int inputs, int outputs, double regularizationFactor, double learningRate) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Network<float>(inputs, outputs, Loss.L2, regularizationFactor, learningRate));

    [Fact]
    public void ToStringShowsWidthsLayersAndLoss()
    {
        var net = new Network<float>(2, 2);
        net.AddLinear(10, w: 0.05);
        net.AddRelu();
        net.AddLinear(2, w: 0.05);
        Assert.Equal("2-10-2 linear relu linear, l2", net.ToString());
        var ce = new Network<float>(4, 3, Loss.CrossEntropy);
        ce.AddLinear(3, w: 0.05);
        ce.AddSoftmax();
        Assert.Equal("4-3 linear softmax, ce", ce.ToString());
    }

    [Fact]
    public void HeInitialisationHasTheRightScaleAndZeroBias()
    {
        // 50,000 weights: the sample standard deviation is within 0.3% (1 se) of √(2/100) = 0.1414; allow 2%.
        var net = new Network<double>(100, 500, seed: 9);
        var layer = net.AddLinear(500);
        var w = layer.Weight.Value.ToArray();
        Assert.Equal(0, w.Average(), 0.005);
        Assert.Equal(Math.Sqrt(2.0 / 100), Math.Sqrt(w.Average(v => v * v)), 0.02 * Math.Sqrt(2.0 / 100));
        Assert.All(layer.Bias!.Value.ToArray(), b => Assert.Equal(0.0, b));
        Assert.Equal(Network<double>.HeScale(100), Math.Sqrt(0.02));
    }

    [Fact]
    public void GeneratedLinearFollowsTheReportParameters()
    {
        // Weights 3 + 0.5·N(0,1) (100 × 200 draws), biases −2 + 0.1·N(0,1) (200 draws); bounds about 5 standard errors.
        var net = new Network<double>(100, 200, seed: 10);
        var layer = net.AddLinear(200, w: 0.5, wo: 3, b: 0.1, bo: -2, regularization: true);
        var w = layer.Weight.Value.ToArray();
        var b = layer.Bias!.Value.ToArray();
        Assert.Equal((200, 100), layer.Weight.Value.Shape);
        Assert.Equal((1, 200), layer.Bias!.Value.Shape);
        Assert.Equal(3, w.Average(), 0.02);
        Assert.Equal(0.5, Math.Sqrt(w.Average(v => (v - 3) * (v - 3))), 0.015);
        Assert.Equal(-2, b.Average(), 0.04);
        Assert.Equal(0.1, Math.Sqrt(b.Average(v => (v + 2) * (v + 2))), 0.03);
        Assert.True(layer.Weight.Regularized);
        Assert.False(layer.Bias!.Regularized);
    }

    [Fact]
    public void SameSeedGivesSameWeights()
    {
        static float[] Weights(ulong seed)
        {
            var net = new Network<float>(3, 4, seed: seed);
            net.AddLinear(5, w: 1, b: 1);
            net.AddLinear(4, w: 1, b: 1);
            return [.. net.Parameters.SelectMany(p => p.Value.ToArray())];
        }
        Assert.Equal(Weights(1), Weights(1));
        Assert.NotEqual(Weights(1), Weights(2));
    }

    private static Linear<float> CustomLinear(int inputs, int outputs) =>
        new(new Matrix<float>(outputs, inputs), new Matrix<float>(1, outputs), regularized: false);
}
