using System.Numerics;

namespace ScratchNet.Compute;

/// <summary>
/// SGD updates fused into single passes over the weights. With <c>keep</c> = 1 − 2·lr·λ (λ the L2
/// factor; 1 for parameters without the penalty), one step is w ← keep·w − lr·g, the penalty's
/// gradient 2λw folded into the scale instead of a pass of its own. Each kernel also returns Σ w² of
/// the weights it read, the penalty's base before the step, so the step's loss costs no extra pass.
/// </summary>
/// <remarks>
/// Work is cut into fixed chunks of <see cref="Chunk"/> elements, and partial sums are added chunk by
/// chunk in order, so neither the weights nor the returned sum depend on the thread count.
/// </remarks>
internal static unsafe class SgdKernels
{
    /// <summary>Elements per chunk: a few cache lines of a weight row, the unit threads share out.</summary>
    public const int Chunk = 256;

    private const long MinElementsPerPart = 1 << 15;

    /// <summary>w ← keep·w − lr·g, then g ← 0; returns Σ w² of the old w.</summary>
    public static double Update<T>(Span<T> weights, Span<T> gradients, T learningRate, T keep) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gradients.Length != weights.Length) throw new ShapeMismatchException($"SGD update: {weights.Length} weights but {gradients.Length} gradients.");
        fixed (T* w = weights, g = gradients)
        {
            var job = UpdateJob<T>.ForThisThread;
            job.Set(w, g, weights.Length, learningRate, keep);
            WorkerTeam.Run(Parts(weights.Length), job);
            return job.SumPartials();
        }
    }

    /// <summary>
    /// The Linear layer's backward pass and SGD step in one pass over W, for small batches:
    /// dX = dY·W with the old W (skipped when <paramref name="inputGradient"/> is null),
    /// W ← keep·W − lr·dYᵀ·X, b ← b − lr·Σ_b dY. Returns Σ W² of the old W.
    /// </summary>
    /// <param name="weights">W, (out, in).</param>
    /// <param name="bias">b, out values.</param>
    /// <param name="input">X, (B, in).</param>
    /// <param name="outputGradient">dY, (B, out).</param>
    /// <param name="inputGradient">dX, (B, in), overwritten; or null.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="keep">1 − 2·lr·λ, or 1 without the penalty.</param>
    public static double LinearBackward<T>(Tensor<T> weights, Tensor<T> bias, Tensor<T> input, Tensor<T> outputGradient, Tensor<T>? inputGradient, T learningRate, T keep)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int batch = input.Rows, outputs = weights.Rows, inputs = weights.Cols;
        if (inputGradient is not null) inputGradient.Span.Clear();
        var biasValues = bias.Span;
        for (int b = 0; b < batch; b++)
        {
            var dy = outputGradient.Row(b);
            for (int j = 0; j < outputs; j++) biasValues[j] -= learningRate * dy[j];
        }
        fixed (T* w = weights.Buffer, x = input.Buffer, dy = outputGradient.Buffer)
        fixed (T* dx = inputGradient is null ? null : inputGradient.Buffer)
        {
            var job = LinearJob<T>.ForThisThread;
            job.Set(w, outputs, inputs, x, dy, dx, batch, learningRate, keep);
            WorkerTeam.Run(Parts((long)outputs * inputs, inputs), job);
            return job.SumPartials();
        }
    }

    /// <summary>Plain-loop truth for <see cref="LinearBackward"/>; for tests.</summary>
    public static double LinearBackwardReference<T>(Tensor<T> weights, Tensor<T> bias, Tensor<T> input, Tensor<T> outputGradient, Tensor<T>? inputGradient, T learningRate, T keep)
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

    private static int Parts(long elements, int columns = int.MaxValue)
    {
        long chunks = (Math.Min(columns, elements) + Chunk - 1) / Chunk;
        return (int)Math.Max(1, Math.Min(elements / MinElementsPerPart, Math.Min(Threading.ThreadCount, chunks)));
    }

    // Part `part` of `parts` contiguous ranges of chunks over [0, length): element bounds.
    private static (int Start, int End) Range(int length, int part, int parts)
    {
        int chunks = (length + Chunk - 1) / Chunk;
        int start = (int)((long)chunks * part / parts) * Chunk;
        int end = (int)Math.Min((long)chunks * (part + 1) / parts * Chunk, length);
        return (start, end);
    }

    private abstract class ChunkedJob<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        protected double[] Partials = [];
        private int _chunks;

        protected void ResetPartials(int length)
        {
            _chunks = (length + Chunk - 1) / Chunk;
            if (Partials.Length < _chunks) Partials = new double[_chunks];
            Array.Clear(Partials, 0, _chunks);
        }

        public double SumPartials()
        {
            double sum = 0;
            for (int c = 0; c < _chunks; c++) sum += Partials[c];
            return sum;
        }

        // Σ v² over one chunk, in lanes, then folded into a double.
        protected static double SumSquares(T* v, int length)
        {
            T sum = Simd.Dot(v, v, length);
            return double.CreateChecked(sum);
        }
    }

    private sealed class UpdateJob<T> : ChunkedJob<T>, IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static UpdateJob<T>? _forThisThread;
        public static UpdateJob<T> ForThisThread => _forThisThread ??= new UpdateJob<T>();

        private T* _w, _g;
        private int _length;
        private T _learningRate, _keep;

        public void Set(T* w, T* g, int length, T learningRate, T keep)
        {
            _w = w; _g = g; _length = length; _learningRate = learningRate; _keep = keep;
            ResetPartials(length);
        }

        public void Execute(int part, int parts)
        {
            var (start, end) = Range(_length, part, parts);
            for (int c = start; c < end; c += Chunk)
            {
                int length = Math.Min(Chunk, end - c);
                Partials[c / Chunk] = SumSquares(_w + c, length);
                Step(_w + c, _g + c, length);
            }
        }

        private void Step(T* w, T* g, int length)
        {
            int i = 0, width = Vector<T>.Count;
            var keep = new Vector<T>(_keep);
            var minusRate = new Vector<T>(-_learningRate);
            if (Vector.IsHardwareAccelerated)
                for (; i <= length - width; i += width)
                {
                    Vector.Store(Simd.Fma(minusRate, Vector.Load(g + i), keep * Vector.Load(w + i)), w + i);
                    Vector.Store(Vector<T>.Zero, g + i);
                }
            for (; i < length; i++)
            {
                w[i] = T.FusedMultiplyAdd(-_learningRate, g[i], _keep * w[i]);
                g[i] = T.Zero;
            }
        }
    }

    // Threads take ranges of W's columns (chunks of each row), so every dX element and every weight
    // belongs to one thread and no sum crosses threads.
    private sealed class LinearJob<T> : ChunkedJob<T>, IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static LinearJob<T>? _forThisThread;
        public static LinearJob<T> ForThisThread => _forThisThread ??= new LinearJob<T>();

        private T* _w, _x, _dy, _dx;
        private int _outputs, _inputs, _batch;
        private T _learningRate, _keep;

        public void Set(T* w, int outputs, int inputs, T* x, T* dy, T* dx, int batch, T learningRate, T keep)
        {
            _w = w; _x = x; _dy = dy; _dx = dx;
            (_outputs, _inputs, _batch, _learningRate, _keep) = (outputs, inputs, batch, learningRate, keep);
            ResetPartials(inputs);
        }

        public void Execute(int part, int parts)
        {
            var (start, end) = Range(_inputs, part, parts);
            for (int j = 0; j < _outputs; j++)
                for (int c = start; c < end; c += Chunk)
                {
                    int length = Math.Min(Chunk, end - c);
                    T* w = _w + (nint)j * _inputs + c;
                    Partials[c / Chunk] += SumSquares(w, length);
                    if (_batch == 1) RowBatch1(w, _x + c, _dx is null ? null : _dx + c, _dy[j], length);
                    else RowBatched(w, j, c, length);
                }
        }

        // dx += dy·w (old w); w ← keep·w − lr·dy·x.
        private void RowBatch1(T* w, T* x, T* dx, T dy, int length)
        {
            int i = 0, width = Vector<T>.Count;
            var keep = new Vector<T>(_keep);
            var vdy = new Vector<T>(dy);
            var step = new Vector<T>(-_learningRate * dy);
            if (Vector.IsHardwareAccelerated)
                for (; i <= length - width; i += width)
                {
                    var wv = Vector.Load(w + i);
                    if (dx is not null) Vector.Store(Simd.Fma(vdy, wv, Vector.Load(dx + i)), dx + i);
                    Vector.Store(Simd.Fma(step, Vector.Load(x + i), keep * wv), w + i);
                }
            T scalarStep = -_learningRate * dy;
            for (; i < length; i++)
            {
                T wi = w[i];
                if (dx is not null) dx[i] = T.FusedMultiplyAdd(dy, wi, dx[i]);
                w[i] = T.FusedMultiplyAdd(scalarStep, x[i], _keep * wi);
            }
        }

        // The same for a few samples: every dx row gets dy_b·w, and w steps by Σ_b dy_b·x_b.
        private void RowBatched(T* w, int j, int c, int length)
        {
            for (int i = 0; i < length; i++)
            {
                T wi = w[i], step = T.Zero;
                for (int b = 0; b < _batch; b++)
                {
                    T dy = _dy[(nint)b * _outputs + j];
                    if (_dx is not null)
                    {
                        T* dx = _dx + (nint)b * _inputs + c + i;
                        *dx = T.FusedMultiplyAdd(dy, wi, *dx);
                    }
                    step = T.FusedMultiplyAdd(dy, _x[(nint)b * _inputs + c + i], step);
                }
                w[i] = T.FusedMultiplyAdd(-_learningRate, step, _keep * wi);
            }
        }
    }
}
