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

    public static TheoryData<string> EveryOptimizer() => new(["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "clipped"]);

    // torch's requires_grad = False: no step, no decay, no state change for the frozen parameter; the others step as
    // they would without it (the optimisers' arithmetic against torch, freezing included: OptimizerGoldenTests).
    [Theory]
    [MemberData(nameof(EveryOptimizer))]
    public void AFrozenParameterIsLeftAsItIsAndTheOthersStepAsWithoutIt(string name)
    {
        IOptimizer<double> Make() => name switch
        {
            "sgd" => new Sgd<double>(0.1),
            "clipped" => new ClippedOptimizer<double>(Create("nesterov"), maxNorm: 0.5),
            _ => Create(name),
        };
        var (optimizer, parameters) = (Make(), Parameters(seed: 3));
        var (alone, weightAlone) = (Make(), Parameters(seed: 3)[..1]);
        foreach (ref double b in parameters[1].Value.Span) b = 0.25;
        double[] bias = parameters[1].Value.Span.ToArray();
        parameters[1].Frozen = true;
        for (int k = 0; k < 4; k++)
        {
            Step(optimizer, parameters, k);
            Step(alone, weightAlone, k);
        }
        Assert.Equal(bias, parameters[1].Value.Span.ToArray());
        Assert.Equal(weightAlone[0].Value.Span.ToArray(), parameters[0].Value.Span.ToArray());
        if (((optimizer as ClippedOptimizer<double>)?.Inner ?? optimizer) is StatefulOptimizer<double> state)
            for (int k = 0; k < state.StatePerParameter; k++)
                Assert.All(state.State[state.StatePerParameter + k].Span.ToArray(), v => Assert.Equal(0.0, v));

        parameters[1].Frozen = false;   // unfrozen, it steps again
        Step(optimizer, parameters, 4);
        Assert.NotEqual(bias, parameters[1].Value.Span.ToArray());
    }

    [Fact]
    public void ClippingLeavesAFrozenParametersGradientOutOfTheNormAndUnscaled()
    {
        var parameters = Parameters(seed: 5);
        parameters[0].Gradient.Span.Fill(1);    // 12 ones: norm √12
        parameters[1].Gradient.Span.Fill(100);
        parameters[1].Frozen = true;
        double norm = GradientClipping.ClipByGlobalNorm(parameters, maxNorm: 1);
        Assert.Equal(Math.Sqrt(12), norm, 1e-12);
        Assert.All(parameters[0].Gradient.Span.ToArray(), g => Assert.Equal(1 / (Math.Sqrt(12) + 1e-6), g, 1e-12));
        Assert.All(parameters[1].Gradient.Span.ToArray(), g => Assert.Equal(100.0, g));
    }

    [Theory]
    [InlineData(1)]     // a first linear layer at batch 1 defers its step into the next forward pass
    [InlineData(40)]    // above the fused kernel's batch: the step as one GEMM into W
    public void ThePlainSgdStepOfTheReportLeavesAFrozenBiasAndWeightAsTheyAre(int batch)
    {
        var data = ToyData.Linear<double>(80, seed: 2);
        var net = new Network<double>(2, 2, Loss.L2, learningRate: 0.1, seed: 4);
        var first = net.AddLinear(6);
        net.AddRelu();
        var last = net.AddLinear(2);
        double[] firstBias = first.Bias!.Value.Span.ToArray(), lastWeight = last.Weight.Value.Span.ToArray(), firstWeight = first.Weight.Value.Span.ToArray();
        first.Bias!.Frozen = true;
        last.Weight.Frozen = true;
        new Trainer<double>(net, data.Features, data.Targets, seed: 1).Train(epochs: 2, batchSize: batch);
        Assert.Equal(firstBias, first.Bias.Value.Span.ToArray());
        Assert.Equal(lastWeight, last.Weight.Value.Span.ToArray());
        Assert.NotEqual(firstWeight, first.Weight.Value.Span.ToArray());
        Assert.True(first.Bias.Gradient.Span.ToArray().All(g => g == 0), "the step still consumes the frozen gradient");
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
