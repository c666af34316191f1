using ScratchNet.Layers;
using ScratchNet.Losses;
using ScratchNet.Optimizers;

namespace ScratchNet.Tests.Training;

/// <summary>
/// A training step does not run backward through the layers before the first one that holds a parameter that is not
/// frozen (airbench's whitening convolution once its bias is frozen, and the GELU after it), as autograd leaves out what
/// requires no gradient; the step's weights and loss are those of the whole backward pass followed by the optimiser.
/// </summary>
public class FrozenPrefixTests
{
    // An identity that counts its backward passes.
    private sealed class CountingIdentity(Shape shape) : Layer<double>(shape, shape)
    {
        private Matrix<double>? _last;

        public int Backwards { get; private set; }

        public override string Kind => "counting_identity";

        protected override Matrix<double>? LastOutput => _last;

        protected override Matrix<double> ForwardCore(Matrix<double> input) => _last = input;

        protected override Matrix<double> BackwardCore(Matrix<double> outputGradient)
        {
            Backwards++;
            return outputGradient;
        }
    }

    private static (Network<double> Net, CountingIdentity Counter) Build(bool momentum)
    {
        var net = new Network<double>(4, 3, Loss.CrossEntropy, regularizationFactor: 0.1, learningRate: 0.2, seed: 12);
        net.AddLinear(6, w: 0.6, b: 0.3, regularization: true);   // frozen below: its squares still count in the penalty
        var counter = net.Add(new CountingIdentity(net.CurrentShape));
        net.Add(new Gelu<double>(net.CurrentShape));
        net.AddLinear(3, w: 0.5, b: 0.3, regularization: true);
        net.AddSoftmax();
        if (momentum) net.Optimizer = new SgdMomentum<double>(0.2, nesterov: true);   // the step that is not fused with backward
        foreach (var p in net.Layers[0].Parameters) p.Frozen = true;
        return (net, counter);
    }

    private static (Matrix<double> X, Matrix<double> Y) Batch()
    {
        var rng = new Rng(4);
        var x = new Matrix<double>(5, 4);
        foreach (ref double v in x.Span) v = rng.NextNormal();
        var y = new Matrix<double>(5, 3);
        for (int r = 0; r < 5; r++) y[r, r % 3] = 1;
        return (x, y);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AStepSkipsTheLayersBeforeTheFirstThatLearnsAndStepsAsTheWholeBackwardPassWould(bool momentum)
    {
        var (x, y) = Batch();
        var (net, counter) = Build(momentum);
        var (whole, wholeCounter) = Build(momentum);

        double loss = net.TrainStep(x, y);
        Assert.Equal(0, counter.Backwards);

        double wholeLoss = whole.ComputeGradients(x, y, out _);   // the whole backward pass, input gradient included
        Assert.Equal(1, wholeCounter.Backwards);
        whole.Optimizer.Step(whole.Parameters);

        Assert.Equal(wholeLoss, loss, 12);
        for (int i = 0; i < net.Parameters.Count; i++)
        {
            var (ours, theirs) = (net.Parameters[i].Value.ToArray(), whole.Parameters[i].Value.ToArray());
            for (int k = 0; k < ours.Length; k++) Assert.Equal(theirs[k], ours[k], 12);
        }
        Assert.NotEqual(Build(momentum).Net.Layers[3].Parameters[0].Value.ToArray(), net.Layers[3].Parameters[0].Value.ToArray());   // it trained

        foreach (var p in net.Layers[0].Parameters) p.Frozen = false;   // the first layer learns again: everything runs backward
        net.TrainStep(x, y);
        Assert.Equal(1, counter.Backwards);
    }
}
