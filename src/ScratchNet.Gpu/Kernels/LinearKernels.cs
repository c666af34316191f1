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

    /// <summary>The largest group <see cref="SgdStepTiled"/> may be launched with (16 × 16 threads; its shared-memory size).</summary>
    public const int MaxTiledGroup = 256;

    /// <summary>
    /// <see cref="SgdStep"/> for mini-batches, as a register-tiled GEMM: a group of s × s threads (s² = the group
    /// size) owns a (4s × 4s) tile of W, stages s batch rows of dZ and x at a time in shared memory, and each
    /// thread accumulates a 4 × 4 block of dZᵀ·x in registers: 8 shared-memory reads per 16 multiply-adds,
    /// where the one-thread-per-weight kernel reads twice per multiply-add. Groups of the first column block
    /// also step the bias of their rows.
    /// </summary>
    public static void SgdStepTiled(ArrayView<float> outputGradient, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias,
                                    int rows, int inputs, int outputs, float learningRate, float keep, int side)
    {
        var gradientTile = SharedMemory.Allocate<float>(4 * MaxTiledGroup);  // [k][j], s rows of 4s
        var inputTile = SharedMemory.Allocate<float>(4 * MaxTiledGroup);     // [k][i]
        int tile = 4 * side;
        int thread = Group.IdxX;
        int tx = thread % side, ty = thread / side;
        int columnBlocks = (inputs + tile - 1) / tile;
        int j0 = Grid.IdxX / columnBlocks * tile;
        int i0 = Grid.IdxX % columnBlocks * tile;

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int r0 = 0; r0 < rows; r0 += side)
        {
            // s·4s elements of each operand, 4 per thread, read along rows (coalesced).
            for (int q = 0; q < 4; q++)
            {
                int e = thread + q * side * side;
                int k = e / tile, column = e - k * tile;
                int r = r0 + k;
                gradientTile[e] = r < rows && j0 + column < outputs ? outputGradient[(long)r * outputs + j0 + column] : 0f;
                inputTile[e] = r < rows && i0 + column < inputs ? input[(long)r * inputs + i0 + column] : 0f;
            }
            Group.Barrier();
            for (int k = 0; k < side; k++)
            {
                int row = k * tile;
                float g0 = gradientTile[row + ty], g1 = gradientTile[row + ty + side], g2 = gradientTile[row + ty + 2 * side], g3 = gradientTile[row + ty + 3 * side];
                float x0 = inputTile[row + tx], x1 = inputTile[row + tx + side], x2 = inputTile[row + tx + 2 * side], x3 = inputTile[row + tx + 3 * side];
                c00 += g0 * x0; c01 += g0 * x1; c02 += g0 * x2; c03 += g0 * x3;
                c10 += g1 * x0; c11 += g1 * x1; c12 += g1 * x2; c13 += g1 * x3;
                c20 += g2 * x0; c21 += g2 * x1; c22 += g2 * x2; c23 += g2 * x3;
                c30 += g3 * x0; c31 += g3 * x1; c32 += g3 * x2; c33 += g3 * x3;
            }
            Group.Barrier();
        }

        Step(weight, j0 + ty, i0 + tx, c00, c01, c02, c03, inputs, outputs, side, learningRate, keep);
        Step(weight, j0 + ty + side, i0 + tx, c10, c11, c12, c13, inputs, outputs, side, learningRate, keep);
        Step(weight, j0 + ty + 2 * side, i0 + tx, c20, c21, c22, c23, inputs, outputs, side, learningRate, keep);
        Step(weight, j0 + ty + 3 * side, i0 + tx, c30, c31, c32, c33, inputs, outputs, side, learningRate, keep);

        if (i0 == 0 && thread < tile && j0 + thread < outputs)
        {
            float biasGradient = 0;
            for (int r = 0; r < rows; r++) biasGradient += outputGradient[(long)r * outputs + j0 + thread];
            bias[j0 + thread] -= learningRate * biasGradient;
        }
    }

    // One row j of a thread's 4 × 4 block: W[j, i + n·s] ← keep·W − lr·c_n, inside the matrix only.
    private static void Step(ArrayView<float> weight, int j, int i, float c0, float c1, float c2, float c3,
                             int inputs, int outputs, int side, float learningRate, float keep)
    {
        if (j >= outputs) return;
        long row = (long)j * inputs;
        if (i < inputs) weight[row + i] = keep * weight[row + i] - learningRate * c0;
        if (i + side < inputs) weight[row + i + side] = keep * weight[row + i + side] - learningRate * c1;
        if (i + 2 * side < inputs) weight[row + i + 2 * side] = keep * weight[row + i + 2 * side] - learningRate * c2;
        if (i + 3 * side < inputs) weight[row + i + 3 * side] = keep * weight[row + i + 3 * side] - learningRate * c3;
    }

    /// <summary>
    /// <see cref="Forward"/> for mini-batches and evaluation chunks, first half: partial[slice, r, j] = Σ_k x[r, k]·W[j, k]
    /// over the slice's share of k, as a register-tiled GEMM (a group of s × s threads owns a 4s × 4s tile of
    /// rows × outputs and stages s columns of x and W at a time in shared memory, rows padded by one against bank
    /// conflicts). Splitting k over slices gives a small batch enough groups to fill the GPU; <see cref="FinishForward"/>
    /// adds the slices in order, so the result does not depend on scheduling.
    /// </summary>
    public static void ForwardTiledPartial(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> partial,
                                           int rows, int inputs, int outputs, int sliceLength, int side)
    {
        var inputTile = SharedMemory.Allocate<float>(TiledForwardShared);   // [k][r], rows of 4s + 1
        var weightTile = SharedMemory.Allocate<float>(TiledForwardShared);  // [k][j]
        int tile = 4 * side, stride = tile + 1;
        int thread = Group.IdxX;
        int tx = thread % side, ty = thread / side;
        int rowBlocks = (rows + tile - 1) / tile;
        int outputBlocks = (outputs + tile - 1) / tile;
        int slice = Grid.IdxX / (rowBlocks * outputBlocks);
        int block = Grid.IdxX - slice * rowBlocks * outputBlocks;
        int r0 = block / outputBlocks * tile;
        int j0 = block % outputBlocks * tile;
        int kBegin = slice * sliceLength;
        int kEnd = XMath.Min(inputs, kBegin + sliceLength);

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int k0 = kBegin; k0 < kEnd; k0 += side)
        {
            // 4s rows × s columns of each operand, 4 per thread; consecutive threads read consecutive k (coalesced).
            for (int q = 0; q < 4; q++)
            {
                int e = thread + q * side * side;
                int row = e / side, k = e - row * side;
                bool inside = k0 + k < kEnd;
                inputTile[k * stride + row] = inside && r0 + row < rows ? x[(long)(r0 + row) * inputs + k0 + k] : 0f;
                weightTile[k * stride + row] = inside && j0 + row < outputs ? weight[(long)(j0 + row) * inputs + k0 + k] : 0f;
            }
            Group.Barrier();
            for (int k = 0; k < side; k++)
            {
                int at = k * stride;
                float x0 = inputTile[at + ty], x1 = inputTile[at + ty + side], x2 = inputTile[at + ty + 2 * side], x3 = inputTile[at + ty + 3 * side];
                float w0 = weightTile[at + tx], w1 = weightTile[at + tx + side], w2 = weightTile[at + tx + 2 * side], w3 = weightTile[at + tx + 3 * side];
                c00 += x0 * w0; c01 += x0 * w1; c02 += x0 * w2; c03 += x0 * w3;
                c10 += x1 * w0; c11 += x1 * w1; c12 += x1 * w2; c13 += x1 * w3;
                c20 += x2 * w0; c21 += x2 * w1; c22 += x2 * w2; c23 += x2 * w3;
                c30 += x3 * w0; c31 += x3 * w1; c32 += x3 * w2; c33 += x3 * w3;
            }
            Group.Barrier();
        }

        long sliceStart = (long)slice * rows * outputs;
        Store(partial, sliceStart, r0 + ty, j0 + tx, c00, c01, c02, c03, rows, outputs, side);
        Store(partial, sliceStart, r0 + ty + side, j0 + tx, c10, c11, c12, c13, rows, outputs, side);
        Store(partial, sliceStart, r0 + ty + 2 * side, j0 + tx, c20, c21, c22, c23, rows, outputs, side);
        Store(partial, sliceStart, r0 + ty + 3 * side, j0 + tx, c30, c31, c32, c33, rows, outputs, side);
    }

    /// <summary>Shared floats per operand tile of <see cref="ForwardTiledPartial"/>: s rows of 4s + 1 for s = 16.</summary>
    public const int TiledForwardShared = 16 * (4 * 16 + 1);

    // One row r of a thread's 4 × 4 block of partial sums: partial[slice, r, j + n·s] = c_n, inside the matrix only.
    private static void Store(ArrayView<float> partial, long sliceStart, int r, int j, float c0, float c1, float c2, float c3,
                              int rows, int outputs, int side)
    {
        if (r >= rows) return;
        long row = sliceStart + (long)r * outputs;
        if (j < outputs) partial[row + j] = c0;
        if (j + side < outputs) partial[row + j + side] = c1;
        if (j + 2 * side < outputs) partial[row + j + 2 * side] = c2;
        if (j + 3 * side < outputs) partial[row + j + 3 * side] = c3;
    }

    /// <summary>output[r, j] = f(Σ_slice partial[slice, r, j] + b[j]), the slices added in order; one thread per output.</summary>
    public static void FinishForward(Index1D e, ArrayView<float> partial, ArrayView<float> bias, ArrayView<float> output,
                                     int rows, int outputs, int slices, int activation)
    {
        int j = e % outputs;
        long plane = (long)rows * outputs;
        float sum = 0;
        for (int slice = 0; slice < slices; slice++) sum += partial[slice * plane + e];
        output[e] = Activations.Apply(activation, sum + bias[j]);
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
