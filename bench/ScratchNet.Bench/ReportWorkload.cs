using ScratchNet.Data;
using ScratchNet.Losses;

namespace ScratchNet.Bench;

/// <summary>The report's network (inputs-800-300-10, its weight scales, cross-entropy, L2 penalty) and random data, as every suite times them.</summary>
internal static class ReportWorkload
{
    /// <param name="hidden">The hidden widths: the report's (800, 300) unless a dry run shrinks them.</param>
    public static Network<float> Network(int inputs, double regularization = 1e-4, double learningRate = 2e-4, (int First, int Second)? hidden = null)
    {
        var (first, second) = hidden ?? (800, 300);
        var network = new Network<float>(inputs, 10, Loss.CrossEntropy, regularization, learningRate, seed: 1);
        network.AddLinear(first, w: 0.001, regularization: true); network.AddRelu();
        network.AddLinear(second, w: 0.0025, regularization: true); network.AddRelu();
        network.AddLinear(10, w: 0.03, regularization: true); network.AddSoftmax();
        return network;
    }

    /// <summary>Uniform [0, 1) inputs and random one-hot labels over 10 classes.</summary>
    public static Dataset<float> RandomData(int inputs, int rows)
    {
        var rng = new Rng(2);
        var x = new Matrix<float>(rows, inputs);
        foreach (ref float v in x.Span) v = (float)rng.NextDouble();
        var y = new Matrix<float>(rows, 10);
        for (int r = 0; r < rows; r++) y[r, rng.NextInt(10)] = 1;
        return new Dataset<float>("random", x, y);
    }
}
