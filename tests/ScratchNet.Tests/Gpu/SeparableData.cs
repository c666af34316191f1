using ScratchNet.Data;

namespace ScratchNet.Tests.Gpu;

/// <summary>Three well-separated classes in 6 dimensions: learnable in a few epochs and small enough for the kernel simulator.</summary>
internal static class SeparableData
{
    public const int Features = 6, Classes = 3;

    public static Dataset<float> Create(ulong seed, int samples = 60)
    {
        var rng = new Rng(seed);
        var x = new Matrix<float>(samples, Features);
        var y = new Matrix<float>(samples, Classes);
        for (int r = 0; r < samples; r++)
        {
            int label = rng.NextInt(Classes);
            y[r, label] = 1;
            for (int c = 0; c < Features; c++) x[r, c] = (float)(0.3 * rng.NextNormal() + (c % Classes == label ? 1.5 : 0));
        }
        return new Dataset<float>("separable", x, y);
    }

    /// <summary>Features-10-Classes with ReLU (and dropout, when given) and softmax + cross-entropy, plain SGD.</summary>
    public static Network<float> Network(ulong seed, double dropout = 0)
    {
        var network = new Network<float>(Features, Classes, Losses.Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.1, seed: seed);
        network.AddLinear(10, regularization: true);
        network.AddRelu();
        if (dropout > 0) network.AddDropout(dropout);
        network.AddLinear(Classes, regularization: true);
        network.AddSoftmax();
        return network;
    }
}
