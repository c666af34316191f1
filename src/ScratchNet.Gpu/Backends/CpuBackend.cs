using ScratchNet.Compute;

namespace ScratchNet.Gpu.Backends;

/// <summary>
/// The backend operations on the host: the core's GEMM for the products, plain loops for the rest.
/// It is the reference the GPU kernels are checked against, and it runs <see cref="DeviceNetwork"/> where
/// no GPU is usable. (The core's <c>Network.TrainStep</c> fuses further and stays the fast CPU path.)
/// </summary>
public sealed class CpuBackend : IBackend
{
    /// <inheritdoc />
    public string Name => "cpu";

    /// <inheritdoc />
    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => new HostBuffer<T>(checked((int)length));

    /// <inheritdoc />
    public void Upload<T>(ReadOnlySpan<T> source, DeviceBuffer<T> target, long offset = 0) where T : unmanaged =>
        source.CopyTo(Host(target).AsSpan(checked((int)offset)));

    /// <inheritdoc />
    public void Download<T>(DeviceBuffer<T> source, Span<T> target, long offset = 0) where T : unmanaged =>
        Host(source).AsSpan(checked((int)offset), target.Length).CopyTo(target);

    /// <inheritdoc />
    public void Fill(DeviceBuffer<double> buffer, double value) => Host(buffer).AsSpan().Fill(value);

    /// <inheritdoc />
    public void GatherBatch(DeviceBuffer<float> allX, int features, DeviceBuffer<float> allY, int targets,
                            DeviceBuffer<int> order, int first, int rows, DeviceBuffer<float> x, DeviceBuffer<float> y)
    {
        float[] sourceX = Host(allX), sourceY = Host(allY), batchX = Host(x), batchY = Host(y);
        int[] rowOrder = Host(order);
        for (int r = 0; r < rows; r++)
        {
            int row = rowOrder[first + r];
            sourceX.AsSpan(row * features, features).CopyTo(batchX.AsSpan(r * features));
            sourceY.AsSpan(row * targets, targets).CopyTo(batchY.AsSpan(r * targets));
        }
    }

    /// <inheritdoc />
    public void LinearForward(DeviceBuffer<float> x, int rows, int inputs, DeviceBuffer<float> weight, DeviceBuffer<float> bias,
                              int outputs, DeviceActivation activation, DeviceBuffer<float> output)
    {
        var z = View(output, rows, outputs);
        Gemm.Multiply(View(x, rows, inputs), false, View(weight, outputs, inputs), true, z, 1f, 0f);
        float[] b = Host(bias);
        var values = z.Span;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < outputs; j++)
                values[r * outputs + j] = Activate(activation, values[r * outputs + j] + b[j]);
    }

    /// <inheritdoc />
    public void LinearInputGradient(DeviceBuffer<float> outputGradient, int rows, int outputs, DeviceBuffer<float> weight, int inputs,
                                    DeviceActivation inputActivation, DeviceBuffer<float> input, DeviceBuffer<float> inputGradient)
    {
        var dx = View(inputGradient, rows, inputs);
        Gemm.Multiply(View(outputGradient, rows, outputs), false, View(weight, outputs, inputs), false, dx, 1f, 0f);
        var values = dx.Span;
        float[] a = Host(input);
        for (int e = 0; e < rows * inputs; e++) values[e] *= Derivative(inputActivation, a[e]);
    }

    /// <inheritdoc />
    public void LinearSgdStep(DeviceBuffer<float> outputGradient, DeviceBuffer<float> input, int rows, int outputs, int inputs,
                              DeviceBuffer<float> weight, DeviceBuffer<float> bias, float learningRate, float keep)
    {
        var dz = View(outputGradient, rows, outputs);
        Gemm.Multiply(dz, true, View(input, rows, inputs), false, View(weight, outputs, inputs), -learningRate, keep);
        float[] b = Host(bias), g = Host(outputGradient);
        for (int j = 0; j < outputs; j++)
        {
            float sum = 0;
            for (int r = 0; r < rows; r++) sum += g[r * outputs + j];
            b[j] -= learningRate * sum;
        }
    }

    /// <inheritdoc />
    public void SoftmaxCrossEntropy(DeviceBuffer<float> logits, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation logitActivation, float gradientScale,
                                    DeviceBuffer<float>? logitGradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect)
    {
        float[] z = Host(logits), y = Host(targets), loss = Host(rowLoss), correct = Host(rowCorrect);
        float[]? gradient = logitGradient is null ? null : Host(logitGradient);
        for (int r = 0; r < rows; r++)
        {
            var zr = z.AsSpan(r * cols, cols);
            var yr = y.AsSpan(r * cols, cols);
            float max = float.NegativeInfinity, targetSum = 0;
            for (int c = 0; c < cols; c++) { max = MathF.Max(max, zr[c]); targetSum += yr[c]; }
            float expSum = 0;
            for (int c = 0; c < cols; c++) expSum += MathF.Exp(zr[c] - max);
            float logSum = max + MathF.Log(expSum), rowLossValue = 0;
            for (int c = 0; c < cols; c++) rowLossValue += yr[c] * (logSum - zr[c]);
            loss[r] = rowLossValue;
            correct[r] = ArgMax(zr) == ArgMax(yr) ? 1 : 0;
            if (gradient is null) continue;
            for (int c = 0; c < cols; c++)
                gradient[r * cols + c] = (MathF.Exp(zr[c] - logSum) * targetSum - yr[c]) * Derivative(logitActivation, zr[c]) * gradientScale;
        }
    }

    /// <inheritdoc />
    public void SquaredError(DeviceBuffer<float> output, DeviceBuffer<float> targets, int rows, int cols, DeviceActivation outputActivation,
                             float gradientScale, DeviceBuffer<float>? gradient, DeviceBuffer<float> rowLoss, DeviceBuffer<float> rowCorrect)
    {
        float[] o = Host(output), y = Host(targets), loss = Host(rowLoss), correct = Host(rowCorrect);
        float[]? g = gradient is null ? null : Host(gradient);
        for (int r = 0; r < rows; r++)
        {
            float sum = 0;
            for (int c = 0; c < cols; c++)
            {
                int e = r * cols + c;
                float difference = o[e] - y[e];
                sum += difference * difference;
                if (g is not null) g[e] = 2 * difference * Derivative(outputActivation, o[e]) * gradientScale;
            }
            loss[r] = sum;
            correct[r] = ArgMax(o.AsSpan(r * cols, cols)) == ArgMax(y.AsSpan(r * cols, cols)) ? 1 : 0;
        }
    }

    /// <inheritdoc />
    public void AccumulateSum(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot)
    {
        double sum = 0;
        foreach (float value in Host(values).AsSpan(0, checked((int)count))) sum += value;
        Host(sums)[slot] += sum;
    }

    /// <inheritdoc />
    public void AccumulateSquares(DeviceBuffer<float> values, long count, DeviceBuffer<double> sums, int slot)
    {
        double sum = 0;
        foreach (float value in Host(values).AsSpan(0, checked((int)count))) sum += (double)value * value;
        Host(sums)[slot] += sum;
    }

    /// <inheritdoc />
    public void Synchronize()
    {
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <summary>f(z) for <paramref name="activation"/>; the GPU kernels compute the same expressions.</summary>
    internal static float Activate(DeviceActivation activation, float z) => activation switch
    {
        DeviceActivation.Relu => z > 0 ? z : 0,
        DeviceActivation.Sigmoid => 1 / (1 + MathF.Exp(-z)),
        DeviceActivation.Tanh => MathF.Tanh(z),
        _ => z,
    };

    /// <summary>f′ written in terms of the output a = f(z).</summary>
    internal static float Derivative(DeviceActivation activation, float a) => activation switch
    {
        DeviceActivation.Relu => a > 0 ? 1 : 0,
        DeviceActivation.Sigmoid => a * (1 - a),
        DeviceActivation.Tanh => 1 - a * a,
        _ => 1,
    };

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    private static T[] Host<T>(DeviceBuffer<T> buffer) where T : unmanaged =>
        buffer is HostBuffer<T> host ? host.Data : throw new ArgumentException($"The buffer belongs to another backend ({buffer.GetType().Name}).");

    // The first rows·cols elements of a host buffer as a tensor, without copying.
    private static Matrix<float> View(DeviceBuffer<float> buffer, int rows, int cols) => Matrix<float>.View(Host(buffer), 0, rows, cols);

    private sealed class HostBuffer<T>(int length) : DeviceBuffer<T> where T : unmanaged
    {
        public T[] Data { get; } = new T[length];

        public override long Length => Data.Length;

        public override void Dispose()
        {
        }
    }
}
