namespace ScratchNet.Compute;

/// <summary>
/// The sizes of one 2-D convolution over a (C, H, W) sample, as the kernels read them: a kernel of
/// (KernelHeight, KernelWidth) moved by (StrideHeight, StrideWidth) over the input zero-padded by PadTop
/// rows above and PadLeft columns on the left (the bottom and right padding only shows in OutHeight and
/// OutWidth), channels split into Groups that each see C/Groups inputs and write OutChannels/Groups outputs.
/// </summary>
internal readonly record struct ConvGeometry(
    int Channels, int Height, int Width, int OutChannels, int Groups,
    int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth, int PadTop, int PadLeft, int OutHeight, int OutWidth)
{
    /// <summary>Input channels per group.</summary>
    public int GroupChannels => Channels / Groups;

    /// <summary>Output channels per group.</summary>
    public int GroupOutChannels => OutChannels / Groups;

    /// <summary>Elements of one input plane, H·W.</summary>
    public int InputPlane => Height * Width;

    /// <summary>Elements of one output plane, OH·OW: the GEMM's n.</summary>
    public int OutputPlane => OutHeight * OutWidth;

    /// <summary>Rows of a group's column matrix, (C/G)·KH·KW: the GEMM's k, and a weight row's length.</summary>
    public int Patch => GroupChannels * KernelHeight * KernelWidth;

    /// <summary>Elements per input sample.</summary>
    public int InputSize => Channels * InputPlane;

    /// <summary>Elements per output sample.</summary>
    public int OutputSize => OutChannels * OutputPlane;

    /// <summary>A 1×1 kernel at stride 1 without padding: the input planes are already the column matrix.</summary>
    public bool IsPointwise => KernelHeight == 1 && KernelWidth == 1 && StrideHeight == 1 && StrideWidth == 1 && PadTop == 0 && PadLeft == 0
        && OutHeight == Height && OutWidth == Width;

    /// <summary>Multiply-adds of one sample's forward pass (the same count for each backward half).</summary>
    public long MultiplyAdds => (long)OutChannels * OutputPlane * Patch;

    /// <summary>The output size along one axis: ⌊(size + before + after − kernel) / stride⌋ + 1, or 0 or less when the kernel does not fit.</summary>
    public static long OutputLength(int size, int kernel, int stride, int before, int after) =>
        ((long)size + before + after - kernel) < 0 ? 0 : ((long)size + before + after - kernel) / stride + 1;
}
