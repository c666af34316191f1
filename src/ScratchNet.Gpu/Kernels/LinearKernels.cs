using ILGPU;
using ILGPU.Algorithms;

namespace ScratchNet.Gpu.Kernels;

/// <summary>
/// A linear layer's three kernels: forward (with bias and activation), the input gradient (with the
/// previous activation's derivative), and the SGD step that consumes the weight gradient without storing it.
/// Each is shaped for the MLP's small batches — the report trains one sample at a time — where a tiled GEMM
/// would leave most of the GPU idle: they spread the long dimension (inputs, outputs) across threads and
/// keep the batch rows in a loop.
/// </summary>
internal static class LinearKernels
{
    /// <summary>Batch rows one warp of <see cref="Forward"/> handles, reusing its weight row from cache.</summary>
    public const int RowsPerWarp = 8;

    /// <summary>The largest group <see cref="InputGradient"/> may be launched with (its shared-memory size).</summary>
    public const int MaxGradientGroup = 1024;

    /// <summary>
    /// output[r, j] = f(Σ_k x[r, k]·W[j, k] + b[j]). One warp per (output j, block of <see cref="RowsPerWarp"/> rows):
    /// its lanes read x's and W's rows with unit stride (coalesced) and meet in a butterfly sum.
    /// </summary>
    public static void Forward(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
                               int rows, int inputs, int outputs, int activation)
    {
        int warpSize = Warp.WarpSize;
        int globalWarp = (Grid.IdxX * Group.DimX + Group.IdxX) / warpSize;
        int lane = Warp.LaneIdx;
        int j = globalWarp % outputs;
        int firstRow = globalWarp / outputs * RowsPerWarp;
        // Whole warps leave together, so the shuffles below always see every lane.
        if (firstRow >= rows) return;
        int endRow = XMath.Min(rows, firstRow + RowsPerWarp);
        long weightRow = (long)j * inputs;
        for (int r = firstRow; r < endRow; r++)
        {
            long inputRow = (long)r * inputs;
            float sum = 0;
            for (int k = lane; k < inputs; k += warpSize) sum += x[inputRow + k] * weight[weightRow + k];
            sum = WarpMath.Sum(sum);
            if (lane == 0) output[(long)r * outputs + j] = Activations.Apply(activation, sum + bias[j]);
        }
    }

    /// <summary>
    /// dX[r, i] = (Σ_j dZ[r, j]·W[j, i])·f′(a[r, i]). One group per (row, block of a warp's width of columns);
    /// its warps split the outputs j into slices (reads of W's rows stay coalesced across the columns), and the
    /// slices' partial sums are added in slice order, so the result does not depend on scheduling.
    /// </summary>
    public static void InputGradient(ArrayView<float> outputGradient, ArrayView<float> weight, ArrayView<float> input, ArrayView<float> inputGradient,
                                     int rows, int inputs, int outputs, int inputActivation)
    {
        var partial = SharedMemory.Allocate<float>(MaxGradientGroup);
        int columns = Warp.WarpSize;
        int thread = Group.IdxX;
        int slices = Group.DimX / columns;
        int column = thread % columns;
        int slice = thread / columns;
        int columnBlocks = (inputs + columns - 1) / columns;
        int r = Grid.IdxX / columnBlocks;
        int i = Grid.IdxX % columnBlocks * columns + column;

        float sum = 0;
        if (i < inputs)
        {
            long gradientRow = (long)r * outputs;
            for (int j = slice; j < outputs; j += slices) sum += outputGradient[gradientRow + j] * weight[(long)j * inputs + i];
        }
        partial[thread] = sum;
        Group.Barrier();
        if (slice == 0 && i < inputs)
        {
            float total = 0;
            for (int s = 0; s < slices; s++) total += partial[s * columns + column];
            long e = (long)r * inputs + i;
            inputGradient[e] = total * Activations.Derivative(inputActivation, input[e]);
        }
    }

    /// <summary>
    /// W[j, i] ← keep·W[j, i] − lr·Σ_r dZ[r, j]·x[r, i], one thread per weight (the batch is a short loop whose
    /// operands stay in cache); the thread of column 0 also steps b[j] ← b[j] − lr·Σ_r dZ[r, j].
    /// </summary>
    public static void SgdStep(Index1D e, ArrayView<float> outputGradient, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
                               int rows, int inputs, int outputs, float learningRate, float keep)
    {
        int j = e / inputs;
        int i = e - j * inputs;
        float gradient = 0;
        for (int r = 0; r < rows; r++) gradient += outputGradient[(long)r * outputs + j] * input[(long)r * inputs + i];
        weight[e] = keep * weight[e] - learningRate * gradient;
        if (i == 0)
        {
            float biasGradient = 0;
            for (int r = 0; r < rows; r++) biasGradient += outputGradient[(long)r * outputs + j];
            bias[j] -= learningRate * biasGradient;
        }
    }

    /// <summary>x[r, ·] ← allX[order[first + r], ·] and y likewise, for one batch; one thread per (row, column).</summary>
    public static void GatherBatch(Index1D e, ArrayView<float> allX, ArrayView<float> allY, ArrayView<int> order, ArrayView<float> x, ArrayView<float> y,
                                   int first, int features, int targets)
    {
        int width = XMath.Max(features, targets);
        int r = e / width;
        int c = e - r * width;
        long row = order[first + r];
        if (c < features) x[(long)r * features + c] = allX[row * features + c];
        if (c < targets) y[(long)r * targets + c] = allY[row * targets + c];
    }
}
