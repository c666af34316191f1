using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ScratchNet.Compute;

/// <summary>
/// Pinned scratch arrays used from their first 64-byte boundary on, so that a kernel's 512-bit loads and stores of
/// whole vectors each touch one cache line. The runtime aligns array data to 8 or 16 bytes, which puts every
/// <c>Vector512</c> of a packed weight block, a transposed gradient or a tile's product across two lines: on Intel cores
/// such a load takes two of the load ports' slots. Measured on an Emerald Rapids Xeon by a probe outside the repository
/// (two threads, batch 512, the convolution passes interleaved in one process against the unaligned buffers, medians
/// of 8–10 half-second runs): 64→64 at 15 px forward 274 → 286 GFLOP/s, backward-data 278 → 284, backward-weights
/// 256 → 280; 256→256 at 7 px 351 → 359, 351 → 362, 327 → 338; 24→64 at 31 px backward-weights 253 → 274. The GEMM's
/// shapes in bench gemm, old and new build alternated twice: +2–5 % on the MLP's products, the squares even
/// (bench/results/gemm-cpu-2026-12-04-emr-aligned-panels-ab.txt).
/// </summary>
internal static unsafe class CacheLines
{
    /// <summary>Bytes per cache line on the x64 and ARM64 cores the kernels target.</summary>
    public const int Bytes = 64;

    /// <summary>A pinned, uninitialised array that holds <paramref name="length"/> elements from its first boundary on.</summary>
    public static T[] Allocate<T>(long length) where T : unmanaged =>
        GC.AllocateUninitializedArray<T>(checked((int)(length + Bytes / sizeof(T))), pinned: true);

    /// <summary>Whether <paramref name="array"/> (from <see cref="Allocate"/>) holds <paramref name="length"/> elements from its first boundary on.</summary>
    public static bool Holds<T>(T[]? array, long length) where T : unmanaged => array is not null && array.Length >= length + Bytes / sizeof(T);

    /// <summary>The first element of pinned <paramref name="array"/> that starts a cache line: where its <see cref="Allocate"/>d length begins.</summary>
    public static T* Start<T>(T[] array) where T : unmanaged =>
        (T*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array)) + Bytes - 1) & ~(nint)(Bytes - 1));
}
