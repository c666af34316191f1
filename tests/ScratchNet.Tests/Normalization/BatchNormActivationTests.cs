using System.Numerics;
using ScratchNet.Compute;
using ScratchNet.Layers;
using ScratchNet.Tests.Convolution;

namespace ScratchNet.Tests.Normalization;

/// <summary>
/// A batch norm that applies the activation after it (GELU in both forms, ReLU) computes what the two layers compute
/// apart, bit for bit: the output, the input gradient, the parameter gradients and the running estimates, in training and
/// inference, on planes with and without a partial last vector, on either vector width GELU runs. A network hands every
/// such activation to the batch norm before it when it builds, and that activation then keeps no output buffer.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class BatchNormActivationTests
{
    public enum Function { GeluExact, GeluTanh, Relu }

    public static TheoryData<Function, bool, int, int, bool> Cases()
    {
        var data = new TheoryData<Function, bool, int, int, bool>();
        foreach (var function in Enum.GetValues<Function>())
            foreach (bool training in new[] { true, false })
            {
                data.Add(function, training, 5, 7, true);    // 35 positions: two whole vectors of 16 and a partial one
                data.Add(function, training, 4, 4, false);   // 16: whole vectors only
                data.Add(function, training, 1, 1, true);    // one position per plane: every value is a tail
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ABatchNormThatAppliesTheActivationMatchesBothLayersApartBitForBit(Function function, bool training, int height, int width, bool wide)
    {
        bool wasWide = GeluKernels.Wide;
        GeluKernels.Wide = wide && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        try
        {
            Compare<float>(function, training, height, width);
            Compare<double>(function, training, height, width);
        }
        finally { GeluKernels.Wide = wasWide; }
    }

    private static void Compare<T>(Function function, bool training, int height, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = new Shape(3, height, width);
        var (apart, apartActivation) = (Norm<T>(shape, training), Activation<T>(function, shape));
        var (joined, joinedActivation) = (Norm<T>(shape, training), Activation<T>(function, shape));
        Assert.True(joined.TakeActivation(joinedActivation));
        joinedActivation.HandToLayerBefore();

        var rng = new Rng(77);
        int batch = height * width == 1 ? 4 : 3;
        var x = new Matrix<T>(batch, shape.Size);
        foreach (ref T v in x.Span) v = T.CreateChecked(1.5 * rng.NextNormal() + 0.3);
        var dy = new Matrix<T>(batch, shape.Size);
        foreach (ref T v in dy.Span) v = T.CreateChecked(rng.NextNormal());

        var y = apartActivation.Forward(apart.Forward(x));
        var normalised = joined.Forward(x);
        var joinedOutput = joinedActivation.Forward(normalised);
        Assert.Same(normalised, joinedOutput);   // handed on, not copied
        string what = $"{function} training={training} ({height}, {width}) {typeof(T).Name}";
        Assert.True(y.Span.SequenceEqual(joinedOutput.Span), $"{what}: outputs differ");

        var dx = apart.Backward(apartActivation.Backward(dy));
        var handedOn = joinedActivation.Backward(dy);
        Assert.Same(dy, handedOn);
        var joinedDx = joined.Backward(handedOn);
        Assert.True(dx.Span.SequenceEqual(joinedDx.Span), $"{what}: input gradients differ");
        for (int i = 0; i < apart.Parameters.Count; i++)
            Assert.True(apart.Parameters[i].Gradient.Span.SequenceEqual(joined.Parameters[i].Gradient.Span), $"{what}: {apart.Parameters[i].Name} gradients differ");
        Assert.True(apart.RunningMean.Span.SequenceEqual(joined.RunningMean.Span) && apart.RunningVariance.Span.SequenceEqual(joined.RunningVariance.Span),
            $"{what}: running estimates differ");
        Assert.NotEqual(apartActivation.Forward(x).Span.ToArray(), x.Span.ToArray());   // the function is not the identity here: the test can fail
    }

    private static BatchNorm2d<T> Norm<T>(Shape shape, bool training) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layer = new BatchNorm2d<T>(shape, momentum: 0.3) { Training = training };
        var rng = new Rng(5);
        foreach (ref T v in layer.Weight!.Value.Span) v = T.CreateChecked(1 + 0.5 * rng.NextNormal());
        foreach (ref T v in layer.Bias!.Value.Span) v = T.CreateChecked(0.3 * rng.NextNormal());
        foreach (ref T v in layer.RunningMean.Span) v = T.CreateChecked(0.2 * rng.NextNormal());
        foreach (ref T v in layer.RunningVariance.Span) v = T.CreateChecked(0.5 + rng.NextDouble());
        return layer;
    }

    private static Activation<T> Activation<T>(Function function, Shape shape) where T : unmanaged, IFloatingPointIeee754<T> => function switch
    {
        Function.GeluExact => new Gelu<T>(shape, GeluApproximation.None),
        Function.GeluTanh => new Gelu<T>(shape, GeluApproximation.Tanh),
        _ => new Relu<T>(shape),
    };

    [Fact]
    public void ANetworkHandsEachActivationAfterABatchNormToItAndKeepsNoBufferForIt()
    {
        var net = CnnNetworkTests.SmallCnn<float>(global: true);
        var (x, y) = CnnNetworkTests.Batch<float>(5, 1);
        net.TrainStep(x, y);
        var layers = net.Layers;
        var applied = layers.OfType<Activation<float>>().Where(a => a.AppliedByLayerBefore).ToList();
        Assert.Equal(2, applied.Count);   // the ReLU and the GELU, each after a batch norm; not the softmax
        foreach (var activation in applied)
        {
            int at = layers.ToList().IndexOf(activation);
            Assert.IsType<BatchNorm2d<float>>(layers[at - 1]);
            Assert.Empty((float[])activation.OutputArray());   // never written: no buffer behind it
        }

        // A network built from the same layers predicts what they compute one by one, apart: the pairing changes nothing.
        var loose = CnnNetworkTests.SmallCnn<float>(global: true);   // not built: no layer is paired
        Assert.DoesNotContain(loose.Layers.OfType<Activation<float>>(), a => a.AppliedByLayerBefore);
        var (probe, _) = CnnNetworkTests.Batch<float>(4, 9);
        Matrix<float> output = probe;
        foreach (var layer in loose.Layers) output = layer.Forward(output);   // each layer alone, in inference
        var predicted = CnnNetworkTests.SmallCnn<float>(global: true).Predict(probe);
        Assert.True(predicted.Span.SequenceEqual(output.Span), "a built network's predictions differ from its layers run apart");
    }
}

/// <summary>Batch norm's per-plane vector kernels against their plain loops, over every tail of two vectors and more.</summary>
public class BatchNormPlaneKernelTests
{
    [Fact]
    public void ThePlaneKernelsMatchTheirScalarFormsOverEveryTail()
    {
        Check<float>(1e-6);
        Check<double>(1e-14);
    }

    private static void Check<T>(double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(31);
        T mu = T.CreateChecked(0.4), scale = T.CreateChecked(1.7), beta = T.CreateChecked(-0.2);
        for (int length = 0; length <= 2 * Vector<T>.Count + 3; length++)
        {
            var x = new T[length];
            var dy = new T[length];
            for (int i = 0; i < length; i++) (x[i], dy[i]) = (T.CreateChecked(rng.NextNormal() + 0.5), T.CreateChecked(rng.NextNormal()));
            var z = new T[length];
            BatchNorm2d<T>.Normalise(x, mu, scale, beta, z);
            T sum = T.Zero, squares = T.Zero, plain = T.Zero, centred = T.Zero;
            for (int i = 0; i < length; i++)
            {
                Assert.Equal((x[i] - mu) * scale + beta, z[i]);   // each element rounded as the plain loop rounds it
                sum += x[i];
                squares += (x[i] - mu) * (x[i] - mu);
                plain += dy[i];
                centred += dy[i] * (x[i] - mu);
            }
            var (vectorPlain, vectorCentred) = BatchNorm2d<T>.Sums(dy, x, mu);
            Close(sum, BatchNorm2d<T>.Sum(x), length, "Σ x");
            Close(squares, BatchNorm2d<T>.SumOfCentredSquares(x, mu), length, "Σ (x − μ)²");
            Close(plain, vectorPlain, length, "Σ dy");
            Close(centred, vectorCentred, length, "Σ dy·(x − μ)");
        }

        void Close(T expected, T actual, int length, string what) =>
            Assert.True(double.Abs(double.CreateChecked(expected - actual)) <= tolerance * (1 + length),
                $"{typeof(T).Name} length {length}: {what} {actual}, the plain loop {expected}");
    }
}
