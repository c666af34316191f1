using System.Numerics;
using System.Runtime.InteropServices;
using ScratchNet.Data;
using ScratchNet.Losses;

namespace ScratchNet.Tests.Networks;

/// <summary>
/// <see cref="Network{T}.Evaluate"/> against the loss and accuracy recomputed from <see cref="Network{T}.Predict"/>,
/// and <see cref="Network{T}.RegularizationPenalty"/> against λ·Σ W² over the regularised weights. Inputs of
/// 2,500 rows take the chunked path. Tolerances: 1e-12 relative in double, 1e-5 relative in float.
/// </summary>
public class NetworkEvaluateTests
{
    [Fact]
    public void WrongShapesThrow()
    {
        var net = L2Network<float>(0.01);
        var wrongX = Assert.Throws<ShapeMismatchException>(() => net.Evaluate(new Matrix<float>(5, 3), new Matrix<float>(5, 2)));
        Assert.Contains("(5, 3)", wrongX.Message);
        var wrongY = Assert.Throws<ShapeMismatchException>(() => net.Evaluate(new Matrix<float>(5, 2), new Matrix<float>(5, 4)));
        Assert.Contains("(5, 4)", wrongY.Message);
        Assert.Throws<ShapeMismatchException>(() => net.Evaluate(new Matrix<float>(5, 2), new Matrix<float>(6, 2)));
    }

    [Fact]
    public void DoubleL2LossIncludesThePenalty() => AssertL2Evaluation<double>(1e-12);

    [Fact]
    public void FloatL2LossIncludesThePenalty() => AssertL2Evaluation<float>(1e-5);

    [Fact]
    public void CrossEntropyLossAndAccuracyMatchPredictions()
    {
        var data = ToyData.Square<double>(2_500, seed: 3);
        var net = new Network<double>(2, 2, Loss.CrossEntropy, regularizationFactor: 0.05, seed: 3);
        net.AddLinear(8, w: 0.8, b: 0.5, regularization: true);
        net.AddRelu();
        net.AddLinear(2, w: 0.8, b: 0.5);   // not regularised: excluded from the penalty
        net.AddSoftmax();

        var (loss, accuracy) = net.Evaluate(data.Features, data.Targets);

        var p = net.Predict(data.Features);
        double crossEntropy = 0;
        for (int r = 0; r < p.Rows; r++)
            for (int j = 0; j < p.Cols; j++) crossEntropy -= data.Targets[r, j] * Math.Log(p[r, j]);
        double penalty = 0.05 * net.Layers[0].Parameters[0].Value.ToArray().Sum(w => w * w);
        Assert.Equal(penalty, net.RegularizationPenalty(), 1e-12 * penalty);
        Assert.Equal(crossEntropy / p.Rows + penalty, loss, 1e-12 * loss);
        Assert.Equal(Accuracy(p, data.Targets), accuracy);
        Assert.InRange(accuracy, 0.01, 0.99);   // a random network: the comparison is not trivially all or nothing
    }

    [Fact]
    public void EvaluatingRowsOfASourceEqualsEvaluatingThoseRowsGathered()
    {
        // 1,500 of 3,000 rows, shuffled, so that the 1,024-row chunks hold scattered rows.
        var data = ToyData.Linear<double>(3_000, seed: 5);
        var net = L2Network<double>(0.01);
        int[] rows = [.. Enumerable.Range(0, data.Count).Where(r => r % 2 == 1)];
        new Rng(5).Shuffle<int>(rows);

        var (loss, accuracy) = net.Evaluate(data, rows);
        var (gatheredLoss, gatheredAccuracy) = net.Evaluate(data.Features.GatherRows(rows), data.Targets.GatherRows(rows));

        Assert.Equal(gatheredLoss, loss, 1e-12 * gatheredLoss);
        Assert.Equal(gatheredAccuracy, accuracy);
        Assert.True(double.IsNaN(net.Evaluate(data, []).Loss));
    }

    [Fact]
    public void SourceOfTheWrongWidthThrows()
    {
        var net = L2Network<float>(0.01);
        var wide = new Dataset<float>("wide", new Matrix<float>(4, 3), new Matrix<float>(4, 2));
        var e = Assert.Throws<ShapeMismatchException>(() => net.Evaluate(wide, [0, 1]));
        Assert.Contains("3 features", e.Message);
        Assert.Contains("2 inputs", e.Message);
        var narrow = new Dataset<float>("narrow", new Matrix<float>(4, 2), new Matrix<float>(4, 1));
        Assert.Throws<ShapeMismatchException>(() => net.Evaluate(narrow, [0, 1]));
    }

    [Fact]
    public void ZeroRowsGiveNaN()
    {
        var (loss, accuracy) = L2Network<float>(0.01).Evaluate(new Matrix<float>(0, 2), new Matrix<float>(0, 2));
        Assert.True(double.IsNaN(loss));
        Assert.True(double.IsNaN(accuracy));
    }

    [Fact]
    public void EvaluateChangesNoParameter()
    {
        var net = L2Network<float>(0.01);
        var data = ToyData.Linear<float>(2_500, seed: 4);
        byte[] before = [.. net.Parameters.SelectMany(p => MemoryMarshal.AsBytes(p.Value.Span).ToArray())];
        net.Evaluate(data.Features, data.Targets);
        byte[] after = [.. net.Parameters.SelectMany(p => MemoryMarshal.AsBytes(p.Value.Span).ToArray())];
        Assert.Equal(before, after);
    }

    [Fact]
    public void NoRegularisationMeansNoPenalty()
    {
        var net = L2Network<double>(0);
        Assert.Equal(0, net.RegularizationPenalty());
    }

    private static void AssertL2Evaluation<T>(double relativeTolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var data = ToyData.Linear<T>(2_500, seed: 2);
        var net = L2Network<T>(0.01);

        var (loss, accuracy) = net.Evaluate(data.Features, data.Targets);

        var prediction = net.Predict(data.Features);
        double squaredError = 0;
        for (int r = 0; r < prediction.Rows; r++)
            for (int j = 0; j < prediction.Cols; j++)
            {
                double d = double.CreateChecked(prediction[r, j]) - double.CreateChecked(data.Targets[r, j]);
                squaredError += d * d;
            }
        double weightSquares = net.Parameters.Where(p => p.Name == "weight")
            .Sum(p => p.Value.ToArray().Sum(w => double.CreateChecked(w) * double.CreateChecked(w)));
        double penalty = 0.01 * weightSquares;
        Assert.True(penalty > 0.01, "the check needs a penalty large enough to matter");
        Assert.Equal(penalty, net.RegularizationPenalty(), relativeTolerance * penalty);
        Assert.Equal(squaredError / prediction.Rows + penalty, loss, relativeTolerance * loss);
        Assert.Equal(Accuracy(prediction, data.Targets), accuracy);
        Assert.InRange(accuracy, 0.01, 0.99);
    }

    // 2 → 10 → relu → 2 with both linear layers regularised and non-zero (unregularised) biases.
    private static Network<T> L2Network<T>(double regularizationFactor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var net = new Network<T>(2, 2, Loss.L2, regularizationFactor, seed: 1);
        net.AddLinear(10, w: 0.5, b: 0.5, regularization: true);
        net.AddRelu();
        net.AddLinear(2, w: 0.5, b: 0.5, regularization: true);
        return net;
    }

    // Share of rows whose largest output is in the target's largest column (first index on ties, as IndexOfMax).
    private static double Accuracy<T>(Matrix<T> prediction, Matrix<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int correct = 0;
        for (int r = 0; r < prediction.Rows; r++)
            if (ArgMax(prediction.Row(r)) == ArgMax(targets.Row(r))) correct++;
        return (double)correct / prediction.Rows;

        static int ArgMax(Span<T> row)
        {
            int best = 0;
            for (int j = 1; j < row.Length; j++)
                if (row[j] > row[best]) best = j;
            return best;
        }
    }
}
