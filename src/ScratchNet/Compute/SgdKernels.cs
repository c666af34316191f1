using System.Numerics;

namespace ScratchNet.Compute;

/// <summary>
/// SGD updates fused into single passes over the weights. With <c>keep</c> = 1 − 2·lr·λ (λ the L2
/// factor; 1 for parameters without the penalty), one step is w ← keep·w − lr·g, the penalty's
/// gradient 2λw folded into the scale instead of a pass of its own. Each kernel also returns Σ w² of
/// the weights it read, the penalty's base before the step, so the step's loss costs no extra pass.
/// </summary>
/// <remarks>
/// Work is cut into fixed units (row blocks of W, or flat chunks) that do not depend on the thread
/// count, and partial sums are added unit by unit in order, so neither the weights, the input
/// gradient nor the returned sum depend on how many threads share the work.
/// </remarks>
internal static unsafe class SgdKernels
{
    private const long MinElementsPerPart = 1 << 15;

    // Threads for a job over `elements` weights cut into `units` fixed pieces: enough work per thread
    // to repay the hand-off, never more threads than pieces.
    private static int Parts(long elements, int units) =>
        (int)Math.Max(1, Math.Min(elements / MinElementsPerPart, Math.Min(Threading.ThreadCount, units)));

    /// <summary>w ← keep·w − lr·g, then g ← 0; returns Σ w² of the old w.</summary>
    public static double Update<T>(Span<T> weights, Span<T> gradients, T learningRate, T keep) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gradients.Length != weights.Length) throw new ShapeMismatchException($"SGD update: {weights.Length} weights but {gradients.Length} gradients.");
        fixed (T* w = weights, g = gradients)
        {
            var job = UpdateJob<T>.ForThisThread;
            job.Set(w, g, weights.Length, learningRate, keep);
            WorkerTeam.Run(job.Parts(), job);
            return job.SumPartials();
        }
    }

    /// <summary>
    /// The Linear layer's backward pass and SGD step in one pass over W, for small batches:
    /// dX = dY·W with the old W (skipped when <paramref name="inputGradient"/> is null),
    /// W ← keep·W − lr·dYᵀ·X, b ← b − lr·Σ_b dY. Returns Σ W² of the old W.
    /// </summary>
    /// <param name="weights">W, (out, in).</param>
    /// <param name="bias">b, out values; or null to leave it.</param>
    /// <param name="input">X, (B, in).</param>
    /// <param name="outputGradient">dY, (B, out).</param>
    /// <param name="inputGradient">dX, (B, in), overwritten; or null.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="keep">1 − 2·lr·λ, or 1 without the penalty.</param>
    public static double LinearBackward<T>(Matrix<T> weights, Matrix<T>? bias, Matrix<T> input, Matrix<T> outputGradient, Matrix<T>? inputGradient, T learningRate, T keep)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int batch = input.Rows, outputs = weights.Rows, inputs = weights.Cols;
        if (inputGradient is not null) inputGradient.Span.Clear();
        if (bias is not null) StepBias(bias, outputGradient, learningRate);
        fixed (T* w = weights.Span, x = input.Span, dy = outputGradient.Span)
        fixed (T* dx = inputGradient is null ? null : inputGradient.Span)
        {
            var job = LinearJob<T>.ForThisThread;
            job.Set(w, outputs, inputs, x, dy, dx, batch, learningRate, keep);
            WorkerTeam.Run(job.Parts(), job);
            job.SumInputGradients();
            return job.SumSquares();
        }
    }

    /// <summary>b ← b − lr·Σ_b dY.</summary>
    public static void StepBias<T>(Matrix<T> bias, Matrix<T> outputGradient, T learningRate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = bias.Span;
        for (int b = 0; b < outputGradient.Rows; b++)
        {
            var dy = outputGradient.Row(b);
            for (int j = 0; j < values.Length; j++) values[j] -= learningRate * dy[j];
        }
    }

    /// <summary>
    /// The batch-1 forward pass that also finishes the previous step's deferred update of W: per row,
    /// w ← keep·w − lr·dy_j·x_prev, then y_j = b_j + ⟨w, x⟩ with the new w; each weight is read and
    /// written once. Returns Σ w² of the new W.
    /// </summary>
    /// <param name="weights">W, (out, in), updated in place.</param>
    /// <param name="bias">b, (1, out).</param>
    /// <param name="previousInput">x_prev, (1, in): the input of the step being finished.</param>
    /// <param name="previousGradient">dy, (1, out): that step's output gradient.</param>
    /// <param name="learningRate">lr of that step.</param>
    /// <param name="keep">1 − 2·lr·λ of that step, or 1.</param>
    /// <param name="input">x, (1, in).</param>
    /// <param name="output">y, (1, out), overwritten.</param>
    public static double LinearForwardFinishingStep<T>(Matrix<T> weights, Matrix<T> bias, Matrix<T> previousInput, Matrix<T> previousGradient, T learningRate, T keep, Matrix<T> input, Matrix<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* w = weights.Span, b = bias.Span, xp = previousInput.Span, dy = previousGradient.Span, x = input.Span, y = output.Span)
        {
            var job = ForwardJob<T>.ForThisThread;
            job.Set(w, weights.Rows, weights.Cols, b, xp, dy, learningRate, keep, x, y);
            WorkerTeam.Run(Parts((long)weights.Rows * weights.Cols, weights.Rows), job);
            return job.SumSquares();
        }
    }

    /// <summary>Plain-loop truth for <see cref="LinearForwardFinishingStep"/>; for tests.</summary>
    public static double LinearForwardFinishingStepReference<T>(Matrix<T> weights, Matrix<T> bias, Matrix<T> previousInput, Matrix<T> previousGradient, T learningRate, T keep, Matrix<T> input, Matrix<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double squares = 0;
        for (int j = 0; j < weights.Rows; j++)
        {
            T sum = bias[0, j];
            for (int i = 0; i < weights.Cols; i++)
            {
                T w = keep * weights[j, i] - learningRate * previousGradient[0, j] * previousInput[0, i];
                weights[j, i] = w;
                squares += double.CreateChecked(w * w);
                sum += w * input[0, i];
            }
            output[0, j] = sum;
        }
        return squares;
    }

    /// <summary>Plain-loop truth for <see cref="LinearBackward"/>; for tests.</summary>
    public static double LinearBackwardReference<T>(Matrix<T> weights, Matrix<T> bias, Matrix<T> input, Matrix<T> outputGradient, Matrix<T>? inputGradient, T learningRate, T keep)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double squares = 0;
        inputGradient?.Span.Clear();
        for (int j = 0; j < weights.Rows; j++)
        {
            T biasStep = T.Zero;
            for (int b = 0; b < input.Rows; b++) biasStep += outputGradient[b, j];
            bias[0, j] -= learningRate * biasStep;
            for (int i = 0; i < weights.Cols; i++)
            {
                T w = weights[j, i], step = T.Zero;
                squares += double.CreateChecked(w * w);
                for (int b = 0; b < input.Rows; b++)
                {
                    if (inputGradient is not null) inputGradient[b, i] += outputGradient[b, j] * w;
                    step += outputGradient[b, j] * input[b, i];
                }
                weights[j, i] = keep * w - learningRate * step;
            }
        }
        return squares;
    }

    // Flat over the parameter, in chunks of UpdateChunk: one pass reads w and g, writes w and zeroes g,
    // and sums w² in lanes, folded once per chunk.
    private sealed class UpdateJob<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
    {
        private const int UpdateChunk = 4096;

        [ThreadStatic] private static UpdateJob<T>? _forThisThread;
        public static UpdateJob<T> ForThisThread => _forThisThread ??= new UpdateJob<T>();

        private double[] _partials = [];
        private T* _w, _g;
        private int _length, _chunks;
        private T _learningRate, _keep;

        public void Set(T* w, T* g, int length, T learningRate, T keep)
        {
            _w = w; _g = g; _length = length; _learningRate = learningRate; _keep = keep;
            _chunks = (length + UpdateChunk - 1) / UpdateChunk;
            if (_partials.Length < _chunks) _partials = new double[_chunks];
        }

        public int Parts() => SgdKernels.Parts(_length, _chunks);

        public double SumPartials()
        {
            double sum = 0;
            for (int c = 0; c < _chunks; c++) sum += _partials[c];
            return sum;
        }

        public void Execute(int part, int parts)
        {
            int firstChunk = (int)((long)_chunks * part / parts), endChunk = (int)((long)_chunks * (part + 1) / parts);
            for (int c = firstChunk; c < endChunk; c++)
            {
                int start = c * UpdateChunk;
                _partials[c] = Step(_w + start, _g + start, Math.Min(UpdateChunk, _length - start));
            }
        }

        private double Step(T* w, T* g, int length)
        {
            int i = 0, width = Vector<T>.Count;
            var keep = new Vector<T>(_keep);
            var minusRate = new Vector<T>(-_learningRate);
            var squares = Vector<T>.Zero;
            if (Vector.IsHardwareAccelerated)
                for (; i <= length - width; i += width)
                {
                    var wv = Vector.Load(w + i);
                    squares = Simd.Fma(wv, wv, squares);
                    Vector.Store(Simd.Fma(minusRate, Vector.Load(g + i), keep * wv), w + i);
                    Vector.Store(Vector<T>.Zero, g + i);
                }
            T tail = T.Zero;
            for (; i < length; i++)
            {
                tail = T.FusedMultiplyAdd(w[i], w[i], tail);
                w[i] = T.FusedMultiplyAdd(-_learningRate, g[i], _keep * w[i]);
                g[i] = T.Zero;
            }
            return double.CreateChecked(Vector.Sum(squares)) + double.CreateChecked(tail);
        }
    }

    // Threads take blocks of W's rows, so that each streams through whole rows of W. A block's share
    // of dX (Σ over its rows of dy_j·w_j) goes to a scratch row of its own, and the blocks' shares are
    // added in block order afterwards: blocks are a fixed size, so the sum does not depend on the split.
    private sealed class LinearJob<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
    {
        private const int RowBlock = 32;

        [ThreadStatic] private static LinearJob<T>? _forThisThread;
        public static LinearJob<T> ForThisThread => _forThisThread ??= new LinearJob<T>();

        private double[] _blockSquares = [];
        private T[] _scratch = [];          // (blocks − 1) × B × in: dX shares of blocks 1.. (block 0 writes dX)
        private T* _w, _x, _dy, _dx;
        private int _outputs, _inputs, _batch, _blocks;
        private T _learningRate, _keep;

        public void Set(T* w, int outputs, int inputs, T* x, T* dy, T* dx, int batch, T learningRate, T keep)
        {
            _w = w; _x = x; _dy = dy; _dx = dx;
            (_outputs, _inputs, _batch, _learningRate, _keep) = (outputs, inputs, batch, learningRate, keep);
            _blocks = (outputs + RowBlock - 1) / RowBlock;
            if (_blockSquares.Length < _blocks) _blockSquares = new double[_blocks];
            if (dx is not null)
            {
                long scratch = (long)(_blocks - 1) * batch * inputs;
                if (_scratch.Length < scratch) _scratch = GC.AllocateUninitializedArray<T>((int)scratch, pinned: true);
                Array.Clear(_scratch, 0, (int)scratch);
            }
        }

        public int Parts() => SgdKernels.Parts((long)_outputs * _inputs, _blocks);

        public double SumSquares()
        {
            double sum = 0;
            for (int b = 0; b < _blocks; b++) sum += _blockSquares[b];
            return sum;
        }

        public void SumInputGradients()
        {
            if (_dx is null) return;
            int length = _batch * _inputs;
            var dx = new Span<T>(_dx, length);
            for (int block = 1; block < _blocks; block++)
                System.Numerics.Tensors.TensorPrimitives.Add(dx, _scratch.AsSpan((block - 1) * length, length), dx);
        }

        public void Execute(int part, int parts)
        {
            int first = (int)((long)_blocks * part / parts), end = (int)((long)_blocks * (part + 1) / parts);
            fixed (T* scratch = _scratch)
                for (int block = first; block < end; block++)
                {
                    T* dx = _dx is null ? null : block == 0 ? _dx : scratch + (nint)(block - 1) * _batch * _inputs;
                    var laneSquares = Vector<T>.Zero;
                    T tailSquares = T.Zero;
                    for (int j = block * RowBlock, stop = Math.Min(j + RowBlock, _outputs); j < stop; j++)
                    {
                        T* w = _w + (nint)j * _inputs;
                        if (_batch == 1) RowBatch1(w, _dy[j], dx, ref laneSquares, ref tailSquares);
                        else RowBatched(w, j, dx, ref tailSquares);
                    }
                    _blockSquares[block] = double.CreateChecked(Vector.Sum(laneSquares)) + double.CreateChecked(tailSquares);
                }
        }

        // One row: dx += dy·w (old w); Σ w²; w ← keep·w − lr·dy·x.
        private void RowBatch1(T* w, T dy, T* dx, ref Vector<T> laneSquares, ref T tailSquares)
        {
            int i = 0, width = Vector<T>.Count, length = _inputs;
            var keep = new Vector<T>(_keep);
            var vdy = new Vector<T>(dy);
            T scalarStep = -_learningRate * dy;
            var step = new Vector<T>(scalarStep);
            var squares = laneSquares;
            T* x = _x;
            if (Vector.IsHardwareAccelerated)
                for (; i <= length - width; i += width)
                {
                    var wv = Vector.Load(w + i);
                    squares = Simd.Fma(wv, wv, squares);
                    if (dx is not null) Vector.Store(Simd.Fma(vdy, wv, Vector.Load(dx + i)), dx + i);
                    Vector.Store(Simd.Fma(step, Vector.Load(x + i), keep * wv), w + i);
                }
            laneSquares = squares;
            for (; i < length; i++)
            {
                T wi = w[i];
                tailSquares = T.FusedMultiplyAdd(wi, wi, tailSquares);
                if (dx is not null) dx[i] = T.FusedMultiplyAdd(dy, wi, dx[i]);
                w[i] = T.FusedMultiplyAdd(scalarStep, x[i], _keep * wi);
            }
        }

        // The same for a few samples, element by element: every dx row gets dy_b·w, and w steps by Σ_b dy_b·x_b.
        private void RowBatched(T* w, int j, T* dx, ref T squares)
        {
            for (int i = 0; i < _inputs; i++)
            {
                T wi = w[i], step = T.Zero;
                squares = T.FusedMultiplyAdd(wi, wi, squares);
                for (int b = 0; b < _batch; b++)
                {
                    T dy = _dy[(nint)b * _outputs + j];
                    if (dx is not null)
                    {
                        T* dxi = dx + (nint)b * _inputs + i;
                        *dxi = T.FusedMultiplyAdd(dy, wi, *dxi);
                    }
                    step = T.FusedMultiplyAdd(dy, _x[(nint)b * _inputs + i], step);
                }
                w[i] = T.FusedMultiplyAdd(-_learningRate, step, _keep * wi);
            }
        }
    }

    // Rows split in strips: each row's update, dot product and Σ w² run on one thread, and the row sums
    // are added in row order, so nothing depends on the split.
    private sealed class ForwardJob<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static ForwardJob<T>? _forThisThread;
        public static ForwardJob<T> ForThisThread => _forThisThread ??= new ForwardJob<T>();

        private double[] _rowSquares = [];
        private T* _w, _b, _xp, _dy, _x, _y;
        private int _outputs, _inputs;
        private T _learningRate, _keep;

        public void Set(T* w, int outputs, int inputs, T* b, T* xp, T* dy, T learningRate, T keep, T* x, T* y)
        {
            _w = w; _b = b; _xp = xp; _dy = dy; _x = x; _y = y;
            (_outputs, _inputs, _learningRate, _keep) = (outputs, inputs, learningRate, keep);
            if (_rowSquares.Length < outputs) _rowSquares = new double[outputs];
        }

        public double SumSquares()
        {
            double sum = 0;
            for (int j = 0; j < _outputs; j++) sum += _rowSquares[j];
            return sum;
        }

        public void Execute(int part, int parts)
        {
            int start = (int)((long)_outputs * part / parts), end = (int)((long)_outputs * (part + 1) / parts);
            int width = Vector<T>.Count;
            var keep = new Vector<T>(_keep);
            for (int j = start; j < end; j++)
            {
                T* w = _w + (nint)j * _inputs;
                T scalarStep = -_learningRate * _dy[j];
                var step = new Vector<T>(scalarStep);
                Vector<T> squares = default, dot = default;
                int i = 0;
                if (Vector.IsHardwareAccelerated)
                    for (; i <= _inputs - width; i += width)
                    {
                        var wv = Simd.Fma(step, Vector.Load(_xp + i), keep * Vector.Load(w + i));
                        Vector.Store(wv, w + i);
                        squares = Simd.Fma(wv, wv, squares);
                        dot = Simd.Fma(wv, Vector.Load(_x + i), dot);
                    }
                T tailSquares = T.Zero, tailDot = T.Zero;
                for (; i < _inputs; i++)
                {
                    T wi = T.FusedMultiplyAdd(scalarStep, _xp[i], _keep * w[i]);
                    w[i] = wi;
                    tailSquares = T.FusedMultiplyAdd(wi, wi, tailSquares);
                    tailDot = T.FusedMultiplyAdd(wi, _x[i], tailDot);
                }
                _y[j] = _b[j] + (Vector.Sum(dot) + tailDot);
                _rowSquares[j] = double.CreateChecked(Vector.Sum(squares)) + double.CreateChecked(tailSquares);
            }
        }
    }
}
