using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ScratchNet.Training;

namespace ScratchNet.Mpi;

/// <summary>An MPI call returned an error code (with MPI's default handler, MPI ends the job before that can happen).</summary>
public sealed class MpiException(string message) : ScratchNetException(message);

/// <summary>
/// <c>MPI_COMM_WORLD</c> as an <see cref="IProcessGroup"/>. Every collective is started non-blocking and polled with
/// <c>MPI_Test</c> under a watchdog: one that does not complete within <see cref="Timeout"/> (a peer died, hangs or
/// cannot read its data) prints one line naming this rank and the collective, then ends the whole job with
/// <c>MPI_Abort</c>. Buffers are pinned until their collective completes. Calls may come from any thread, one at a
/// time (<c>MPI_THREAD_SERIALIZED</c>).
/// </summary>
public sealed unsafe class MpiProcessGroup : IProcessGroup, IDisposable
{
    /// <summary>The environment variable that sets <see cref="Timeout"/> in seconds (default 20).</summary>
    public const string TimeoutVariable = "SCRATCHNET_MPI_TIMEOUT";

    private readonly MpiLibrary _mpi;
    private readonly Stack<PendingCollective> _idle = new();   // finished collectives, reused: a warm step allocates nothing
    private bool _finalized;

    private MpiProcessGroup(MpiLibrary mpi, int rank, int size, string version)
    {
        _mpi = mpi;
        Rank = rank;
        Size = size;
        Version = version;
        double seconds = double.TryParse(Environment.GetEnvironmentVariable(TimeoutVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 20;
        Timeout = TimeSpan.FromSeconds(seconds);
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The library file loaded, e.g. <c>libmpi.so.40</c>.</summary>
    public string Library => _mpi.Name;

    /// <summary>Its ABI.</summary>
    public MpiAbi Abi => _mpi.Abi;

    /// <summary>The first line of <c>MPI_Get_library_version</c>, e.g. "Open MPI v4.1.4".</summary>
    public string Version { get; }

    /// <summary>How long a collective may take before the watchdog ends the job.</summary>
    public TimeSpan Timeout { get; set; }

    /// <summary>Where the watchdog's line goes; standard error by default.</summary>
    public TextWriter Error { get; set; } = Console.Error;

    /// <summary>
    /// Loads the MPI library (<see cref="MpiLaunch.LibraryVariable"/>, else the one of the launcher's ABI, else the
    /// other) and initialises it. Call it only when <see cref="MpiLaunch.Launched"/>.
    /// </summary>
    /// <exception cref="MpiException">No MPI library loads, or initialisation fails.</exception>
    public static MpiProcessGroup Initialize(MpiLaunch launch)
    {
        var mpi = MpiLibrary.Open(Environment.GetEnvironmentVariable(MpiLaunch.LibraryVariable), launch.Preferred, out string tried)
                  ?? throw new MpiException($"launched by an MPI launcher, but no MPI library loads (tried {tried}); install Open MPI or MPICH, or name the library in {MpiLaunch.LibraryVariable}.");
        int initialized = 0, provided = 0, rank = 0, size = 0;
        Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0) Check(mpi.InitThread(null, null, MpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread");
        Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        return new MpiProcessGroup(mpi, rank, size, mpi.Version());
    }

    /// <summary>
    /// The MPI libraries this machine has, each as "libmpi.so.40 (Open MPI ABI, /usr/lib/…/libmpi.so.40)", found without loading any;
    /// for <c>scratchnet info</c>.
    /// </summary>
    public static IReadOnlyList<string> Available()
    {
        // Looked for on disk, not loaded: an MPI library loaded into a process no launcher started installs its own
        // signal handlers (UCX's among them), which take over the runtime's, and two ABIs' MPI_* symbols would clash.
        var found = new List<string>();
        string? forced = Environment.GetEnvironmentVariable(MpiLaunch.LibraryVariable);
        if (forced is not null) return File.Exists(forced) ? [Path.GetFileName(forced) + $" ({forced})"] : [];
        string[] folders =
        [
            .. (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries),
            "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib",
        ];
        foreach (var (name, abi) in MpiLibrary.Candidates)
            if (folders.Select(f => Path.Combine(f, name)).FirstOrDefault(File.Exists) is { } path)
                found.Add($"{name} ({(abi == MpiAbi.OpenMpi ? "Open MPI" : "MPICH")} ABI, {path})");
        return found;
    }

    /// <inheritdoc/>
    public void Broadcast<T>(Span<T> buffer) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(buffer);
        for (int start = 0; start < bytes.Length; start += int.MaxValue / 2)
        {
            var part = bytes[start..Math.Min(bytes.Length, start + int.MaxValue / 2)];
            nint request = 0;
            fixed (byte* p = part)
            {
                Check(_mpi.Ibcast(p, part.Length, _mpi.Byte, 0, _mpi.CommWorld, &request), "MPI_Ibcast");
                Complete(&request, "a broadcast", part.Length, "bytes");
            }
        }
    }

    /// <inheritdoc/>
    public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all) where T : unmanaged
    {
        if (all.Length != (long)mine.Length * Size) throw new ArgumentException($"An all-gather of {mine.Length} elements from {Size} ranks needs {mine.Length * (long)Size}, not {all.Length}.", nameof(all));
        var send = MemoryMarshal.AsBytes(mine);
        var receive = MemoryMarshal.AsBytes(all);
        if (send.Length == 0) return;
        if (receive.Length > int.MaxValue) throw new ArgumentException($"An all-gather of {receive.Length} bytes is more than one MPI call carries.", nameof(all));
        nint request = 0;
        fixed (byte* s = send)
        fixed (byte* r = receive)
        {
            Check(_mpi.Iallgather(s, send.Length, _mpi.Byte, r, send.Length, _mpi.Byte, _mpi.CommWorld, &request), "MPI_Iallgather");
            Complete(&request, "an all-gather", send.Length, "bytes per rank");
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum<T>(Span<T> buffer) where T : unmanaged
    {
        if (buffer.Length == 0) return;
        nint type = DataType<T>();
        nint request = 0;
        fixed (T* p = buffer)
        {
            Check(_mpi.Iallreduce((void*)_mpi.InPlace, p, buffer.Length, type, _mpi.Sum, _mpi.CommWorld, &request), "MPI_Iallreduce");
            Complete(&request, "an all-reduce", buffer.Length, typeof(T).Name);
        }
    }

    /// <inheritdoc/>
    public IPendingReduction StartAllReduceSum<T>(Memory<T> buffer) where T : unmanaged
    {
        nint type = DataType<T>();
        var pending = Rent();
        pending.Begin(buffer.Pin(), default, buffer.Length, typeof(T).Name, "an all-reduce");   // pinned until the reduction completes
        if (buffer.Length == 0) return pending;
        int rc = _mpi.Iallreduce((void*)_mpi.InPlace, pending.Pin.Pointer, buffer.Length, type, _mpi.Sum, _mpi.CommWorld, pending.Request);
        if (rc != MpiLibrary.Success)
        {
            pending.End();
            Check(rc, "MPI_Iallreduce");
        }
        return pending;
    }

    /// <inheritdoc/>
    public IPendingReduction StartAllGather<T>(Memory<T> mine, Memory<T> all) where T : unmanaged
    {
        if (all.Length != (long)mine.Length * Size) throw new ArgumentException($"An all-gather of {mine.Length} elements from {Size} ranks needs {mine.Length * (long)Size}, not {all.Length}.", nameof(all));
        long bytes = (long)mine.Length * sizeof(T);
        if (bytes * Size > int.MaxValue) throw new ArgumentException($"An all-gather of {bytes * Size} bytes is more than one MPI call carries.", nameof(all));
        var pending = Rent();
        pending.Begin(mine.Pin(), all.Pin(), bytes, "bytes per rank", "an all-gather");   // both pinned until it completes
        if (bytes == 0) return pending;
        int rc = _mpi.Iallgather(pending.Pin.Pointer, (int)bytes, _mpi.Byte, pending.Received.Pointer, (int)bytes, _mpi.Byte, _mpi.CommWorld, pending.Request);
        if (rc != MpiLibrary.Success)
        {
            pending.End();
            Check(rc, "MPI_Iallgather");
        }
        return pending;
    }

    private PendingCollective Rent() => _idle.Count > 0 ? _idle.Pop() : new PendingCollective(this);

    /// <summary>MPI_Allreduce itself, blocking and without the watchdog: the benchmark's peer for <see cref="AllReduceSum{T}(Span{T})"/>.</summary>
    internal void BlockingAllReduceSum(Span<float> buffer)
    {
        fixed (float* p = buffer) Check(_mpi.Allreduce((void*)_mpi.InPlace, p, buffer.Length, _mpi.Float, _mpi.Sum, _mpi.CommWorld), "MPI_Allreduce");
    }

    /// <summary>Blocks until every rank has called it (under the watchdog, through a one-byte all-reduce).</summary>
    public void Barrier()
    {
        Span<int> one = [1];
        AllReduceSum(one);
    }

    /// <summary>
    /// Prints "error: rank R of N: <paramref name="message"/>" and ends every rank of the job with exit code
    /// <paramref name="code"/> (<c>MPI_Abort</c>); it does not return.
    /// </summary>
    public void AbortJob(string message, int code = 1)
    {
        try
        {
            Error.WriteLine($"error: rank {Rank} of {Size}: {message.ReplaceLineEndings(" ")}");
            Error.Flush();
        }
        catch (IOException) { }
        _mpi.Abort(_mpi.CommWorld, code);
        Environment.Exit(code);
    }

    /// <summary>Finalises MPI (once; every rank must get here).</summary>
    public void Dispose()
    {
        if (_finalized) return;
        _finalized = true;
        int finalized = 0;
        if (_mpi.Finalized(&finalized) == MpiLibrary.Success && finalized == 0) _mpi.Finalize();
    }

    // Polls the request: yielding at first (a collective's rounds progress only inside MPI calls), then sleeping a
    // millisecond between polls so that waiting ranks leave the cores to those still computing.
    // The message is made only on failure: a warm training step allocates nothing.
    private void Complete(nint* request, string collective, long count, string unit)
    {
        long started = Stopwatch.GetTimestamp();
        int done = 0;
        while (true)
        {
            Check(_mpi.Test(request, &done, _mpi.StatusIgnore), "MPI_Test");
            if (done != 0) return;
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed > Timeout)
                AbortJob(string.Create(CultureInfo.InvariantCulture,
                    $"{collective} of {count} {unit} did not complete within {Timeout.TotalSeconds:0.#} s: another rank died, hangs or cannot read its data; ending the job."));
            if (elapsed.TotalMilliseconds < 20) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    private nint DataType<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? _mpi.Float
        : typeof(T) == typeof(double) ? _mpi.Double
        : typeof(T) == typeof(int) ? _mpi.Int32
        : typeof(T) == typeof(long) ? _mpi.Int64
        : throw new NotSupportedException($"An MPI sum of {typeof(T).Name} values is not supported; use float, double, int or long.");

    private static void Check(int rc, string function)
    {
        if (rc != MpiLibrary.Success) throw new MpiException($"{function} failed with MPI error code {rc}.");
    }

    // One started collective: its request slot (native memory, kept with the object) and its pinned buffers.
    private sealed class PendingCollective(MpiProcessGroup group) : IPendingReduction
    {
        private long _count;
        private string _unit = "", _collective = "";
        private bool _active;

        public nint* Request { get; } = (nint*)NativeMemory.AllocZeroed((nuint)sizeof(nint));
        public System.Buffers.MemoryHandle Pin { get; private set; }
        public System.Buffers.MemoryHandle Received { get; private set; }

        public void Begin(System.Buffers.MemoryHandle pin, System.Buffers.MemoryHandle received, long count, string unit, string collective)
        {
            *Request = 0;
            Pin = pin;
            Received = received;
            _count = count;
            _unit = unit;
            _collective = collective;
            _active = count > 0;
            if (!_active) Unpin();
        }

        public bool Poll()
        {
            if (!_active) return true;
            int done = 0;
            Check(group._mpi.Test(Request, &done, group._mpi.StatusIgnore), "MPI_Test");
            if (done != 0) Unpin();
            return done != 0;
        }

        // The caller is done with it: back to the group for the next start.
        public void Wait()
        {
            if (_active) group.Complete(Request, _collective, _count, _unit);
            Unpin();
            group._idle.Push(this);
        }

        public void End()
        {
            Unpin();
            group._idle.Push(this);
        }

        private void Unpin()
        {
            _active = false;
            Pin.Dispose();
            Pin = default;
            Received.Dispose();
            Received = default;
        }
    }
}
