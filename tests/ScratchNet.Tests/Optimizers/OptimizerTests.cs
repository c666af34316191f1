using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Data;
using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Training;

namespace ScratchNet.Tests.Optimizers;

/// <summary>The optimisers in a network, their checkpoint state, clipping and argument checks (their arithmetic: OptimizerGoldenTests).</summary>
public class OptimizerTests
{
    // Checked over seeds 0..4: validation accuracy 0.975..0.9975 and loss 300× to 1000× below the start.
    [Fact]
    public void AdamThroughTrainStepLearnsTheLinearToy()
    {
        var data = ToyData.Linear<float>(2_000, seed: 1);
        var net = new Network<float>(2, 2, Loss.L2, regularizationFactor: 1e-4, seed: 1) { Optimizer = new Adam<float>(0.01) };
        net.AddLinear(10, w: 0.05, regularization: true);
        net.AddRelu();
        net.AddLinear(2, w: 0.05, regularization: true);
        var trainer = new Trainer<float>(net, data.Features, data.Targets, validationFraction: 0.2, seed: 1);

        var history = trainer.Train(epochs: 5, batchSize: 16);

        Assert.True(history.Final.ValidationAccuracy >= 0.96, history.Final.ToReportLine());
        Assert.True(history.Final.ValidationLoss < history[0].ValidationLoss / 100, $"{history[0].ToReportLine()}\n{history.Final.ToReportLine()}");
    }

    public static TheoryData<string> Names() => new(["momentum", "nesterov", "adam", "adamw", "rmsprop"]);

    [Theory]
    [MemberData(nameof(Names))]
    public void RestoredStateContinuesExactlyAsTheOriginal(string name)
    {
        var (original, parameters) = (Create(name), Parameters(seed: 3));
        for (int k = 0; k < 3; k++) Step(original, parameters, k);

        // Checkpoint: parameter values, optimiser state and step count, into fresh objects.
        var copy = Parameters(seed: 99);
        for (int i = 0; i < parameters.Length; i++) parameters[i].Value.Span.CopyTo(copy[i].Value.Span);
        var restored = Create(name);
        restored.LoadState(copy, original.State, original.StepCount);
        restored.LearningRate = original.LearningRate;

        for (int k = 3; k < 6; k++)
        {
            Step(original, parameters, k);
            Step(restored, copy, k);
        }
        Assert.Equal(original.StepCount, restored.StepCount);
        for (int i = 0; i < parameters.Length; i++) Assert.Equal(parameters[i].Value.Span.ToArray(), copy[i].Value.Span.ToArray());
        Assert.Equal(original.State.Count, parameters.Length * original.StatePerParameter);
    }

    [Fact]
    public void StateForOtherParametersIsRejected()
    {
        var adam = new Adam<double>();
        adam.Step(Parameters(seed: 1));
        var other = new[] { new Parameter<double>("weight", new Matrix<double>(5, 5), regularized: false) };
        var error = Assert.Throws<ShapeMismatchException>(() => adam.Step(other));
        Assert.Contains("Adam", error.Message);
        Assert.Throws<ShapeMismatchException>(() => new Adam<double>().LoadState(Parameters(seed: 1), [new Matrix<double>(1, 1)], 1));
    }

    [Fact]
    public void ClippingLeavesSmallGradientsAloneAndScalesLargeOnesToTheMaximum()
    {
        var parameters = Parameters(seed: 2);
        parameters[0].Gradient.Span.Fill(0.1);
        parameters[1].Gradient.Span.Fill(0.1);
        var before = parameters[0].Gradient.Span.ToArray();
        double norm = GradientClipping.ClipByGlobalNorm(parameters, 10);
        Assert.Equal(Math.Sqrt(16 * 0.01), norm, 12);
        Assert.Equal(before, parameters[0].Gradient.Span.ToArray());

        parameters[0].Gradient.Span.Fill(3);
        parameters[1].Gradient.Span.Fill(4);
        norm = GradientClipping.ClipByGlobalNorm(parameters, 1);
        Assert.Equal(Math.Sqrt(12 * 9 + 4 * 16), norm, 12);
        double after = Math.Sqrt(parameters.Sum(p => p.Gradient.Span.ToArray().Sum(g => g * g)));
        Assert.Equal(1, after, 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm(parameters, 0));
    }

    [Fact]
    public void TheClippedOptimizerClipsInsideTrainStep()
    {
        // Two identical networks: one clips through the wrapper in TrainStep, the other by hand.
        var (wrapped, byHand) = (ClipNetwork(), ClipNetwork());
        var inner = new Adam<double>(0.01);
        var clipped = new ClippedOptimizer<double>(inner, maxNorm: 0.05);
        wrapped.Optimizer = clipped;
        var manual = new Adam<double>(0.01);
        var x = new Matrix<double>(4, 3);
        for (int i = 0; i < x.Length; i++) x.Span[i] = Math.Cos(3 * i);
        var y = new Matrix<double>(4, 2);
        for (int i = 0; i < y.Length; i++) y.Span[i] = Math.Sin(i);
        for (int k = 0; k < 3; k++)
        {
            wrapped.TrainStep(x, y);
            byHand.ComputeGradients(x, y, out _);
            double norm = GradientClipping.ClipByGlobalNorm(byHand.Parameters, 0.05);
            manual.Step(byHand.Parameters);
            Assert.Equal(norm, clipped.LastNorm);
            Assert.True(norm > 0.05, $"the test needs gradients above the maximum, got {norm}");
        }
        for (int i = 0; i < wrapped.Parameters.Count; i++)
            Assert.Equal(byHand.Parameters[i].Value.Span.ToArray(), wrapped.Parameters[i].Value.Span.ToArray());
        Assert.Equal(3, inner.StepCount);
    }

    private static Network<double> ClipNetwork()
    {
        var net = new Network<double>(3, 2, Loss.L2, seed: 5);
        net.AddLinear(4, w: 1);
        net.AddRelu();
        net.AddLinear(2, w: 1);
        return net;
    }

    [Fact]
    public void LearningRatesAreSettableAndChecked()
    {
        var sgd = new Sgd<float>(0.1) { LearningRate = 0.05 };
        Assert.Equal(0.05, sgd.LearningRate);
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.LearningRate = 0);
        var adam = new Adam<float>();
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = double.NaN);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SgdMomentum<float>(0.1, momentum: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW<float>(weightDecay: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<float>(alpha: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosine(0.1, warmupEpochs: 5, totalEpochs: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(0.1, stepSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(0.1, 0.9).RateAt(-1));
    }

    [Fact]
    public void WarmupCosineStaysAtTheMinimumAfterItsLastEpoch() =>
        Assert.Equal(0.001, new WarmupCosine(0.1, 2, 10, minRate: 0.001).RateAt(25), 15);

    internal static StatefulOptimizer<double> Create(string name) => name switch
    {
        "momentum" => new SgdMomentum<double>(0.05),
        "nesterov" => new SgdMomentum<double>(0.05, nesterov: true),
        "adam" => new Adam<double>(0.01),
        "adamw" => new AdamW<double>(0.01, weightDecay: 0.1),
        "rmsprop" => new RmsProp<double>(0.01, momentum: 0.5),
        _ => throw new ArgumentException(name),
    };

    private static Parameter<double>[] Parameters(ulong seed)
    {
        var rng = new Rng(seed);
        var weight = new Matrix<double>(3, 4);
        foreach (ref double w in weight.Span) w = rng.NextNormal();
        return [new Parameter<double>("weight", weight, regularized: true), new Parameter<double>("bias", new Matrix<double>(1, 4), regularized: false)];
    }

    // A deterministic gradient for step k that depends on the current weights, as a real one would.
    private static void Step(IOptimizer<double> optimizer, Parameter<double>[] parameters, int k)
    {
        foreach (var p in parameters)
            for (int j = 0; j < p.Gradient.Length; j++) p.Gradient.Span[j] = Math.Sin(p.Value.Span[j] + 0.3 * k + j);
        optimizer.Step(parameters);
    }
}

/// <summary>A warm step with a stateful optimiser allocates nothing (one kernel thread, run alone: it sets the global thread count).</summary>
[Collection(GlobalStateCollection.Name)]
public class OptimizerAllocationTests
{
    [Theory]
    [InlineData("momentum")]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void AWarmTrainStepAllocatesNothing(string name)
    {
        int saved = Threading.ThreadCount;
        try
        {
            Threading.ThreadCount = 1;
            var net = new Network<double>(8, 3, Loss.CrossEntropy, regularizationFactor: 1e-3, seed: 1) { Optimizer = OptimizerTests.Create(name) };
            net.AddLinear(16, regularization: true);
            net.AddRelu();
            net.AddLinear(3, regularization: true);
            net.AddSoftmax();
            var x = new Matrix<double>(4, 8);
            for (int i = 0; i < x.Length; i++) x.Span[i] = Math.Sin(i);
            var y = Dataset<double>.OneHot([0, 1, 2, 1], 3);
            for (int i = 0; i < 30; i++) net.TrainStep(x, y);   // warm: state allocated, tiered JIT

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                net.TrainStep(x, y);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.Equal(0, allocated);
        }
        finally
        {
            Threading.ThreadCount = saved;
        }
    }

    [Fact]
    public void AWarmClippedAdamStepAllocatesNothing()
    {
        var parameters = new[] { new Parameter<float>("weight", new Matrix<float>(30, 20), regularized: true) };
        parameters[0].Gradient.Span.Fill(0.5f);
        var adam = new Adam<float>();
        for (int i = 0; i < 30; i++) adam.Step(parameters);

        Assert.Equal(0, Allocations.Least(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                GradientClipping.ClipByGlobalNorm(parameters, 1.0);
                adam.Step(parameters);
            }
        }));
    }
}
