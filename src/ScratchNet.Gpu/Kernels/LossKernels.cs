using ILGPU;
using ILGPU.Algorithms;

namespace ScratchNet.Gpu.Kernels;

/// <summary>
/// The losses, one warp per row: loss and argmax match per row (summed later in a fixed order, so the
/// statistics never leave the device during an epoch) and, in training, the gradient at the logits.
/// </summary>
internal static class LossKernels
{
    /// <summary>
    /// Softmax cross-entropy from logits z: loss Σ y·(log Σ e^z − z) and gradient (softmax(z)·Σy − y)·scale,
    /// in one pass per row after the max and the log-sum-exp (no p = 0 can make it NaN). When the logits are
    /// themselves an activation's output, the gradient is carried through it (× f′(z)).
    /// </summary>
    public static void SoftmaxCrossEntropy(ArrayView<float> logits, ArrayView<float> targets, ArrayView<float> gradient,
                                           ArrayView<float> rowLoss, ArrayView<float> rowCorrect,
                                           int rows, int cols, int logitActivation, float gradientScale, int withGradient)
    {
        int warpSize = Warp.WarpSize;
        int r = (Grid.IdxX * Group.DimX + Group.IdxX) / warpSize;
        int lane = Warp.LaneIdx;
        if (r >= rows) return;
        long row = (long)r * cols;

        float max = float.NegativeInfinity, targetSum = 0, bestTarget = float.NegativeInfinity;
        int bestLogitIndex = int.MaxValue, bestTargetIndex = int.MaxValue;
        for (int c = lane; c < cols; c += warpSize)
        {
            float z = logits[row + c], y = targets[row + c];
            if (z > max || bestLogitIndex == int.MaxValue) { max = z; bestLogitIndex = c; }
            if (y > bestTarget) { bestTarget = y; bestTargetIndex = c; }
            targetSum += y;
        }
        int predicted = WarpMath.ArgMax(max, bestLogitIndex);
        int actual = WarpMath.ArgMax(bestTarget, bestTargetIndex);
        max = WarpMath.Max(max);
        targetSum = WarpMath.Sum(targetSum);

        float expSum = 0;
        for (int c = lane; c < cols; c += warpSize) expSum += XMath.Exp(logits[row + c] - max);
        float logSum = max + XMath.Log(WarpMath.Sum(expSum));

        float loss = 0;
        for (int c = lane; c < cols; c += warpSize)
        {
            float z = logits[row + c], y = targets[row + c];
            loss += y * (logSum - z);
            if (withGradient != 0)
                gradient[row + c] = (XMath.Exp(z - logSum) * targetSum - y) * Activations.Derivative(logitActivation, z) * gradientScale;
        }
        loss = WarpMath.Sum(loss);
        if (lane == 0)
        {
            rowLoss[r] = loss;
            rowCorrect[r] = predicted == actual ? 1f : 0f; // float literals: see Activations
        }
    }

    /// <summary>L2 loss Σ (o − y)² per row, and the gradient before the output's activation, 2·(o − y)·f′(o)·scale.</summary>
    public static void SquaredError(ArrayView<float> output, ArrayView<float> targets, ArrayView<float> gradient,
                                    ArrayView<float> rowLoss, ArrayView<float> rowCorrect,
                                    int rows, int cols, int outputActivation, float gradientScale, int withGradient)
    {
        int warpSize = Warp.WarpSize;
        int r = (Grid.IdxX * Group.DimX + Group.IdxX) / warpSize;
        int lane = Warp.LaneIdx;
        if (r >= rows) return;
        long row = (long)r * cols;

        float loss = 0, bestOutput = float.NegativeInfinity, bestTarget = float.NegativeInfinity;
        int bestOutputIndex = int.MaxValue, bestTargetIndex = int.MaxValue;
        for (int c = lane; c < cols; c += warpSize)
        {
            float o = output[row + c], y = targets[row + c], difference = o - y;
            loss += difference * difference;
            if (o > bestOutput || bestOutputIndex == int.MaxValue) { bestOutput = o; bestOutputIndex = c; }
            if (y > bestTarget) { bestTarget = y; bestTargetIndex = c; }
            if (withGradient != 0) gradient[row + c] = 2 * difference * Activations.Derivative(outputActivation, o) * gradientScale;
        }
        int predicted = WarpMath.ArgMax(bestOutput, bestOutputIndex);
        int actual = WarpMath.ArgMax(bestTarget, bestTargetIndex);
        loss = WarpMath.Sum(loss);
        if (lane == 0)
        {
            rowLoss[r] = loss;
            rowCorrect[r] = predicted == actual ? 1f : 0f; // float literals: see Activations
        }
    }
}

/// <summary>Sums of a buffer into a double slot, by one group in a fixed order (a tree over strided partial sums).</summary>
internal static class ReductionKernels
{
    /// <summary>The largest group <see cref="Accumulate"/> may be launched with (its shared-memory size); groups are powers of two.</summary>
    public const int MaxGroupSize = 256;

    /// <summary>sums[slot] += Σ values[e] (or Σ values[e]² when <paramref name="square"/> is 1) over e &lt; count; one group.</summary>
    public static void Accumulate(ArrayView<float> values, ArrayView<double> sums, long count, int slot, int square)
    {
        var partial = SharedMemory.Allocate<double>(MaxGroupSize);
        int thread = Group.IdxX;
        int groupSize = Group.DimX;
        double sum = 0;
        for (long e = thread; e < count; e += groupSize)
        {
            double value = values[e];
            sum += square != 0 ? value * value : value;
        }
        partial[thread] = sum;
        Group.Barrier();
        for (int stride = groupSize / 2; stride > 0; stride /= 2)
        {
            if (thread < stride) partial[thread] += partial[thread + stride];
            Group.Barrier();
        }
        if (thread == 0) sums[slot] += partial[0];
    }
}
