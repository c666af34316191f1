using System.Runtime.InteropServices;

namespace ScratchNet.Bench;

/// <summary>
/// The SGEMM peer: OpenBLAS's cblas_sgemm through P/Invoke, when <c>libopenblas.so.0</c> is installed
/// (Debian: <c>libopenblas0-pthread</c>). Loaded by hand so that a machine without it skips the peer.
/// </summary>
internal static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;
    private static readonly delegate* unmanaged<int, void> SetThreads;
    private static readonly delegate* unmanaged<sbyte*> GetConfig;

    static OpenBlas()
    {
        if (!NativeLibrary.TryLoad("libopenblas.so.0", out var library)) return;
        Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(library, "cblas_sgemm");
        SetThreads = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(library, "openblas_set_num_threads");
        GetConfig = (delegate* unmanaged<sbyte*>)NativeLibrary.GetExport(library, "openblas_get_config");
    }

    public static bool Available => Sgemm != null;

    public static string Name => Available ? "openblas " + new string(GetConfig()).Split(' ').Skip(1).FirstOrDefault() : "openblas (not installed)";

    public static void Threads(int count) => SetThreads(count);

    /// <summary>C (m×n) = op(A)·op(B), row-major, as our Gemm.Multiply with alpha 1, beta 0.</summary>
    public static void Multiply(float* a, int lda, bool transposeA, float* b, int ldb, bool transposeB, float* c, int m, int n, int k) =>
        Sgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
}
