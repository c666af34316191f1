using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Regularization;
using Xunit.Abstractions;
using static ScratchNet.Tests.Gradients.GradientCheck;

namespace ScratchNet.Tests.Gradients;

/// <summary>The losses' Backward and the penalty's AddGradient against central differences of the scalar they return.</summary>
public class LossGradientTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void L2LossGradientMatchesFiniteDifferences(int batch)
    {
        var rng = new Rng(600 + (ulong)batch);
        var input = Normal(rng, batch, 4);
        var target = Normal(rng, batch, 4);
        CheckLoss($"l2 loss B={batch}", new L2Loss<double>(), input, target);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void CrossEntropyGradientMatchesFiniteDifferencesWithOneHotTargets(int batch)
    {
        var rng = new Rng(700 + (ulong)batch);
        var logits = Normal(rng, batch, 4, 2);
        CheckLoss($"cross-entropy one-hot B={batch}", new SoftmaxCrossEntropy<double>(), logits, OneHot(rng, batch, 4));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void CrossEntropyGradientMatchesFiniteDifferencesWithSoftUnnormalizedTargets(int batch)
    {
        var rng = new Rng(800 + (ulong)batch);
        var logits = Normal(rng, batch, 4, 2);
        // Positive rows that do not sum to 1: dL/dz = (p·Σy − y)/B, not (p − y)/B.
        CheckLoss($"cross-entropy soft B={batch}", new SoftmaxCrossEntropy<double>(), logits, Uniform(rng, batch, 4, 0.1, 2));
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.7)]
    public void L2RegularizationGradientMatchesFiniteDifferencesOfPenalty(double factor)
    {
        var rng = new Rng(900);
        var regularized = new Linear<double>(Normal(rng, 4, 5), Normal(rng, 1, 4), regularized: true);
        var plain = new Linear<double>(Normal(rng, 3, 4), Normal(rng, 1, 3), regularized: false);
        Parameter<double>[] parameters = [.. regularized.Parameters, .. plain.Parameters];
        var penalty = new L2Regularization<double>(factor);

        foreach (var parameter in parameters) parameter.ZeroGradient();
        penalty.AddGradient(parameters);

        double worst = 0;
        foreach (var parameter in parameters)
        {
            string what = $"L2 penalty λ={factor} d/d{parameter.Name}{(parameter.Regularized ? "" : " (not regularised)")}";
            worst = Math.Max(worst, Check(what, () => penalty.Penalty(parameters), parameter.Value, parameter.Gradient.Span));
            if (!parameter.Regularized)
                Assert.True(parameter.Gradient.Span.IndexOfAnyExcept(0.0) < 0, $"{what}: gradient must stay zero.");
        }
        output.WriteLine($"L2 penalty λ={factor}: worst relative error {worst:E2}");
    }

    private void CheckLoss(string what, LossFunction<double> loss, Matrix<double> input, Matrix<double> target)
    {
        loss.Forward(input, target);
        var analytic = loss.Backward().ToArray();
        double rel = Check($"{what} d/dinput", () => loss.Forward(input, target), input, analytic);
        output.WriteLine($"{what}: relative error {rel:E2}");
    }
}
