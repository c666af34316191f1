using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace ScratchNet.Bench;

/// <summary>
/// The SGEMM peer: OpenBLAS's cblas_sgemm through P/Invoke, when <c>libopenblas.so.0</c> is installed
/// (Debian: <c>libopenblas0-pthread</c>). Loaded by hand so that a machine without it skips the peer.
/// </summary>
/// <remarks>
/// A DYNAMIC_ARCH OpenBLAS picks its kernel once, while it loads, from <c>OPENBLAS_CORETYPE</c> if
/// that is set, else from its own CPU detection. An inherited <c>OPENBLAS_CORETYPE=Haswell</c> would
/// hold it to the AVX2 kernel on an AVX-512 machine, so before loading we set the variable to the best
/// core for this CPU (<see cref="CoreFor"/>) in the process's native environment: .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach libc's
/// <c>getenv</c> on Unix, <c>setenv</c> does. <see cref="Core"/> reads back the core the library took.
/// </remarks>
internal static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;
    private static readonly delegate* unmanaged<int, void> SetThreads;
    private static readonly delegate* unmanaged<sbyte*> GetConfig;
    private static readonly delegate* unmanaged<sbyte*> GetCoreName;

    static OpenBlas()
    {
        RequestedCore = CoreFor(CpuFeatures.Current);
        if (RequestedCore is not null && !OperatingSystem.IsWindows()) SetNativeEnvironment("OPENBLAS_CORETYPE", RequestedCore);
        if (!NativeLibrary.TryLoad("libopenblas.so.0", out var library)) return;
        Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(library, "cblas_sgemm");
        SetThreads = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(library, "openblas_set_num_threads");
        GetConfig = (delegate* unmanaged<sbyte*>)NativeLibrary.GetExport(library, "openblas_get_config");
        if (NativeLibrary.TryGetExport(library, "openblas_get_corename", out var coreName)) GetCoreName = (delegate* unmanaged<sbyte*>)coreName;
    }

    public static bool Available => Sgemm != null;

    public static string Name => Available ? "openblas " + new string(GetConfig()).Split(' ').Skip(1).FirstOrDefault() : "openblas (not installed)";

    /// <summary>The core we asked OpenBLAS for; null where <see cref="CoreFor"/> leaves it to OpenBLAS.</summary>
    public static string? RequestedCore { get; }

    /// <summary>The kernel OpenBLAS actually runs (<c>openblas_get_corename</c>, e.g. "Zen", "SkylakeX"); null if unavailable.</summary>
    public static string? Core => GetCoreName != null ? new string(GetCoreName()) : null;

    public static void Threads(int count) => SetThreads(count);

    /// <summary>C (m×n) = op(A)·op(B), row-major, as our Gemm.Multiply with alpha 1, beta 0.</summary>
    public static void Multiply(float* a, int lda, bool transposeA, float* b, int ldb, bool transposeB, float* c, int m, int n, int k) =>
        Sgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);

    /// <summary>
    /// The best OpenBLAS core (an <c>OPENBLAS_CORETYPE</c> value) for a CPU: its AVX-512 kernel where the
    /// CPU has AVX-512 F, BW, DQ and VL (what OpenBLAS's SkylakeX kernels use); its AVX2 + FMA kernels
    /// otherwise, under the name OpenBLAS gives them for the vendor (Zen on AMD, Haswell elsewhere); null
    /// (let OpenBLAS detect) on anything older or not x86.
    /// </summary>
    public static string? CoreFor(CpuFeatures cpu) => cpu switch
    {
        { Avx512: true } => "SkylakeX",
        { Avx2Fma: true, Amd: true } => "Zen",
        { Avx2Fma: true } => "Haswell",
        _ => null,
    };

    private static void SetNativeEnvironment(string name, string value)
    {
        if (setenv(name, value, 1) != 0) throw new InvalidOperationException($"setenv({name}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}

/// <summary>The CPU features that decide OpenBLAS's kernel (<see cref="OpenBlas.CoreFor"/>).</summary>
/// <param name="Avx512">AVX-512 F, BW, DQ and VL.</param>
/// <param name="Avx2Fma">AVX2 and FMA3.</param>
/// <param name="Amd">The CPUID vendor is AuthenticAMD.</param>
internal readonly record struct CpuFeatures(bool Avx512, bool Avx2Fma, bool Amd)
{
    public static CpuFeatures Current => new(
        Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported,
        Avx2.IsSupported && Fma.IsSupported,
        Vendor == "AuthenticAMD");

    /// <summary>CPUID leaf 0's vendor string ("GenuineIntel", "AuthenticAMD"); empty off x86.</summary>
    public static string Vendor
    {
        get
        {
            if (!X86Base.IsSupported) return "";
            var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
            Span<byte> name = stackalloc byte[12];
            BitConverter.TryWriteBytes(name, ebx);
            BitConverter.TryWriteBytes(name[4..], edx);
            BitConverter.TryWriteBytes(name[8..], ecx);
            return Encoding.ASCII.GetString(name);
        }
    }
}
