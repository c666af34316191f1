using System.Runtime.InteropServices;

namespace ScratchNet.Mpi;

/// <summary>The two MPI application binary interfaces on Linux.</summary>
public enum MpiAbi
{
    /// <summary>Open MPI (<c>libmpi.so.40</c>): handles are addresses of exported globals, <c>MPI_IN_PLACE</c> is 1.</summary>
    OpenMpi,

    /// <summary>MPICH and its derivatives (<c>libmpich.so.12</c>, Intel MPI, MVAPICH): handles are 32-bit integers, <c>MPI_IN_PLACE</c> is −1.</summary>
    Mpich,
}

/// <summary>
/// The MPI C library, opened at run time: about fifteen entry points as function pointers and the predefined
/// handles of its ABI. Handles are carried as <c>nint</c>: MPICH's are C <c>int</c>s, which the x86-64 and arm64
/// calling conventions pass in the low half of a register or stack slot, so one set of signatures serves both
/// ABIs. A request slot is a zeroed <c>nint</c>: Open MPI stores a pointer in it, MPICH a 32-bit handle in its low half.
/// </summary>
internal sealed unsafe class MpiLibrary
{
    /// <summary>The library names tried, in order, for each ABI.</summary>
    public static readonly (string Name, MpiAbi Abi)[] Candidates =
    [
        ("libmpi.so.40", MpiAbi.OpenMpi),
        ("libmpich.so.12", MpiAbi.Mpich),
    ];

    public const int Success = 0;
    public const int ThreadSerialized = 2;   // MPI_THREAD_SERIALIZED: any thread may call, one at a time

    private MpiLibrary(nint handle, string name, MpiAbi abi)
    {
        Handle = handle;
        Name = name;
        Abi = abi;
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Export("MPI_Iallreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        Iallgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)Export("MPI_Iallgather");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)Export("MPI_Ibcast");
        Wait = (delegate* unmanaged<nint*, nint, int>)Export("MPI_Wait");
        Waitall = (delegate* unmanaged<int, nint*, nint, int>)Export("MPI_Waitall");
        Test = (delegate* unmanaged<nint*, int*, nint, int>)Export("MPI_Test");
        Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Export("MPI_Get_library_version");
        if (abi == MpiAbi.OpenMpi)
        {
            // OMPI_PREDEFINED_GLOBAL(type, name) is ((type) &name): the handle is the global's address.
            CommWorld = Export("ompi_mpi_comm_world");
            Byte = Export("ompi_mpi_byte");
            Int32 = Export("ompi_mpi_int");
            Int64 = Export("ompi_mpi_int64_t");
            Float = Export("ompi_mpi_float");
            Double = Export("ompi_mpi_double");
            Sum = Export("ompi_mpi_op_sum");
            InPlace = 1;
            StatusIgnore = 0;
        }
        else
        {
            // mpich/mpi.h: #define MPI_COMM_WORLD ((MPI_Comm)0x44000000) and so on.
            CommWorld = 0x44000000;
            Byte = 0x4c00010d;
            Int32 = 0x4c000405;
            Int64 = 0x4c00083a;
            Float = 0x4c00040a;
            Double = 0x4c00080b;
            Sum = 0x58000003;
            InPlace = -1;
            StatusIgnore = 1;
        }
    }

    public nint Handle { get; }
    public string Name { get; }
    public MpiAbi Abi { get; }

    public nint CommWorld { get; }
    public nint Byte { get; }
    public nint Int32 { get; }
    public nint Int64 { get; }
    public nint Float { get; }
    public nint Double { get; }
    public nint Sum { get; }
    public nint InPlace { get; }
    public nint StatusIgnore { get; }

    public delegate* unmanaged<int*, byte***, int, int*, int> InitThread { get; }
    public delegate* unmanaged<int*, int> Initialized { get; }
    public delegate* unmanaged<int*, int> Finalized { get; }
    public delegate* unmanaged<nint, int*, int> CommRank { get; }
    public delegate* unmanaged<nint, int*, int> CommSize { get; }
    public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce { get; }
    public delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce { get; }
    public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather { get; }
    public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Iallgather { get; }
    public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast { get; }
    public delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast { get; }
    public delegate* unmanaged<nint*, nint, int> Wait { get; }
    public delegate* unmanaged<int, nint*, nint, int> Waitall { get; }
    public delegate* unmanaged<nint*, int*, nint, int> Test { get; }
    public delegate* unmanaged<nint, int, int> Abort { get; }
    public delegate* unmanaged<int> Finalize { get; }
    public delegate* unmanaged<nint, int> Barrier { get; }
    public delegate* unmanaged<byte*, int*, int> GetLibraryVersion { get; }

    /// <summary>
    /// Opens the first library that loads: <paramref name="path"/> when given (its ABI told by its exports), else
    /// <see cref="Candidates"/> in the order <paramref name="preferred"/> puts first. Null when none loads; the
    /// names tried and why they failed are in <paramref name="tried"/>.
    /// </summary>
    public static MpiLibrary? Open(string? path, MpiAbi? preferred, out string tried)
    {
        var attempts = new List<string>();
        IEnumerable<(string Name, MpiAbi? Abi)> order = path is not null
            ? [(path, null)]
            : Candidates.OrderBy(c => c.Abi == preferred ? 0 : 1).Select(c => (c.Name, (MpiAbi?)c.Abi));
        foreach (var (name, abi) in order)
        {
            if (!NativeLibrary.TryLoad(name, out nint handle))
            {
                attempts.Add($"{name} (not found)");
                continue;
            }
            // Open MPI loads its components with dlopen; they resolve libmpi's symbols globally, so it must be global.
            PromoteToGlobal(name);
            var kind = abi ?? (NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _) ? MpiAbi.OpenMpi : MpiAbi.Mpich);
            try
            {
                tried = string.Join(", ", attempts);
                return new MpiLibrary(handle, name, kind);
            }
            catch (EntryPointNotFoundException e)
            {
                attempts.Add($"{name} ({e.Message})");
            }
        }
        tried = string.Join(", ", attempts);
        return null;
    }

    /// <summary>MPI_Get_library_version's text (callable before MPI_Init), first line only.</summary>
    public string Version()
    {
        var text = new byte[8192];   // MPI_MAX_LIBRARY_VERSION_STRING: 256 in Open MPI, 8192 in MPICH
        int length = 0;
        fixed (byte* p = text)
            if (GetLibraryVersion(p, &length) != Success) return "unknown version";
        string version = System.Text.Encoding.ASCII.GetString(text, 0, Math.Clamp(length, 0, text.Length)).Trim('\0', ' ', '\n');
        int end = version.IndexOfAny(['\n', ',']);
        if (end > 0) version = version[..end];
        return string.Join(' ', version.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));   // MPICH: "MPICH Version:\t4.0.2"
    }

    private nint Export(string name) => NativeLibrary.GetExport(Handle, name);

    // dlopen(name, RTLD_NOW | RTLD_GLOBAL) on a library already loaded only widens its symbols' scope.
    private static void PromoteToGlobal(string name)
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out nint libc)) return;
        if (!NativeLibrary.TryGetExport(libc, "dlopen", out nint dlopen)) return;
        var utf8 = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* file = utf8) _ = ((delegate* unmanaged<byte*, int, nint>)dlopen)(file, 0x2 | 0x100);
    }
}
