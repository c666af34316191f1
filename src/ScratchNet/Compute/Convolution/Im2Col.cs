using System.Numerics;
using System.Runtime.CompilerServices;

namespace ScratchNet.Compute;

/// <summary>
/// The column matrix of a convolution and its adjoint. Row r = (c·KH + ki)·KW + kj of a group's column
/// matrix, (Patch, OH·OW), holds input channel c shifted by the kernel tap (ki, kj): element (oh, ow) is
/// x[c, oh·SH − PadTop + ki, ow·SW − PadLeft + kj], zero outside the image. A group's output is then its
/// weights (OC/G, Patch) times this matrix, which is why the weight's PyTorch layout (out, in/G, KH, KW)
/// is the GEMM's A as it stands.
/// </summary>
internal static unsafe class Im2Col
{
    // Rows up to this long are copied element by element: a library call per row would cost more than the row.
    private const int ShortRow = 16;

    /// <summary>
    /// Writes rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of the column matrix of the channels
    /// starting at <paramref name="image"/> (one group's first channel, planes of H·W) into <paramref name="columns"/>,
    /// (rowEnd − rowStart, OH·OW) with rows <paramref name="ld"/> apart (OH·OW, or wider when several samples sit side by side).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gather<T>(in ConvGeometry g, T* image, int rowStart, int rowEnd, T* columns, nint ld) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int taps = g.KernelHeight * g.KernelWidth;
        for (int r = rowStart; r < rowEnd; r++)
        {
            int c = r / taps, ki = r % taps / g.KernelWidth, kj = r % g.KernelWidth;
            T* source = image + (nint)c * g.InputPlane;
            T* row = columns + (r - rowStart) * ld;
            var (low, high) = ValidColumns(g, kj);
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                T* destination = row + oh * g.OutWidth;
                int ih = oh * g.StrideHeight - g.PadTop + ki;
                if ((uint)ih >= (uint)g.Height)
                {
                    new Span<T>(destination, g.OutWidth).Clear();
                    continue;
                }
                for (int ow = 0; ow < low; ow++) destination[ow] = T.Zero;
                T* line = source + ih * g.Width - g.PadLeft + kj;   // line[ow·SW] is x[c, ih, ow·SW − PadLeft + kj]
                if (g.StrideWidth == 1 && high - low > ShortRow)
                    new ReadOnlySpan<T>(line + low, high - low).CopyTo(new Span<T>(destination + low, high - low));
                else if (g.StrideWidth == 1)
                    for (int ow = low; ow < high; ow++) destination[ow] = line[ow];   // a library call per short row costs more than the copy
                else
                    for (int ow = low; ow < high; ow++) destination[ow] = line[ow * g.StrideWidth];
                for (int ow = high; ow < g.OutWidth; ow++) destination[ow] = T.Zero;
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Gather{T}"/> for all of a group's rows: adds each element of <paramref name="columns"/>,
    /// (Patch, OH·OW) with rows <paramref name="ld"/> apart, into the input position it was read from, in row order
    /// (so the sums are deterministic).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScatterAdd<T>(in ConvGeometry g, T* columns, nint ld, T* image) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int taps = g.KernelHeight * g.KernelWidth;
        for (int r = 0; r < g.Patch; r++)
        {
            int c = r / taps, ki = r % taps / g.KernelWidth, kj = r % g.KernelWidth;
            T* target = image + (nint)c * g.InputPlane;
            T* row = columns + r * ld;
            var (low, high) = ValidColumns(g, kj);
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                int ih = oh * g.StrideHeight - g.PadTop + ki;
                if ((uint)ih >= (uint)g.Height) continue;
                T* source = row + oh * g.OutWidth;
                T* line = target + ih * g.Width - g.PadLeft + kj;
                if (g.StrideWidth == 1 && high - low > ShortRow)
                {
                    var into = new Span<T>(line + low, high - low);
                    System.Numerics.Tensors.TensorPrimitives.Add(into, new ReadOnlySpan<T>(source + low, high - low), into);
                }
                else if (g.StrideWidth == 1)
                {
                    for (int ow = low; ow < high; ow++) line[ow] += source[ow];
                }
                else
                {
                    for (int ow = low; ow < high; ow++) line[ow * g.StrideWidth] += source[ow];
                }
            }
        }
    }

    // The output columns [low, high) whose tap kj lands inside the image: 0 ≤ ow·SW − PadLeft + kj < W.
    private static (int Low, int High) ValidColumns(in ConvGeometry g, int kj)
    {
        int offset = g.PadLeft - kj;   // ow·SW ≥ offset and ow·SW ≤ W − 1 + offset
        int low = offset <= 0 ? 0 : (offset + g.StrideWidth - 1) / g.StrideWidth;
        int last = g.Width - 1 + offset;
        int high = last < 0 ? 0 : Math.Min(g.OutWidth, last / g.StrideWidth + 1);
        low = Math.Min(low, g.OutWidth);
        return (low, Math.Max(low, high));
    }
}
