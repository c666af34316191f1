using System.Globalization;
using ScratchNet.Mpi;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>train</c> under an MPI launcher (<c>mpirun -np N scratchnet train …</c>, <c>srun --mpi=pmix …</c>): the process
/// group, the checks that only make sense with several ranks, and how a fault on one rank ends the job. Without a
/// launcher (or with one rank) there is none and MPI is never loaded.
/// </summary>
internal sealed class MpiRun : IDisposable
{
    // Loading the data and building the network may take long on some ranks (a first download, a slow disk): the
    // ranks meet once under this bound before training, then every collective gets the group's own timeout.
    private static readonly TimeSpan MeetingTimeout = TimeSpan.FromMinutes(10);

    private MpiRun(MpiProcessGroup group) => Group = group;

    /// <summary>MPI_COMM_WORLD.</summary>
    public MpiProcessGroup Group { get; }

    /// <summary>Whether this process writes the run folder and prints (rank 0).</summary>
    public bool IsRoot => Group.Rank == 0;

    /// <summary>
    /// Checks <paramref name="c"/> against the launcher's world size and initialises MPI; null without a launcher or
    /// with a single rank.
    /// </summary>
    /// <exception cref="UsageException">The batch does not divide over the ranks, or a setting does not combine with them.</exception>
    public static MpiRun? Start(RunConfig c)
    {
        var launch = MpiLaunch.Current;
        if (!launch.Parallel) return null;
        int size = launch.Size;
        if (c.BatchSize % size != 0)
            throw new UsageException($"--batch-size {c.BatchSize} is the global batch and must divide over the {size} ranks; give a multiple of {size}.");
        int accumulate = c.Accumulate ?? 1;
        if (c.BatchSize % (size * accumulate) != 0)
            throw new UsageException($"--batch-size {c.BatchSize} is the global batch and must divide into the {size} ranks × --accumulate {accumulate} micro-batches; give a multiple of {size * accumulate}.");
        var group = MpiProcessGroup.Initialize(launch);
        if (group.Size != size)
            throw new MpiException($"the launcher says {size} ranks but MPI_COMM_WORLD has {group.Size}: {group.Library} belongs to another MPI than the launcher (set {MpiLaunch.LibraryVariable}).");
        return new MpiRun(group);
    }

    /// <summary>
    /// Runs <paramref name="load"/> on rank 0 first and on the others after it (so that a first download or cache
    /// write happens once), under the long meeting timeout.
    /// </summary>
    public TResult RankZeroFirst<TResult>(Func<TResult> load)
    {
        TResult result = default!;
        if (IsRoot) result = load();
        Meet();
        if (!IsRoot) result = load();
        return result;
    }

    /// <summary>Waits until every rank is here (at most 10 minutes: a rank that takes longer ends the job).</summary>
    public void Meet()
    {
        var usual = Group.Timeout;
        Group.Timeout = MeetingTimeout;
        try { Group.Barrier(); }
        finally { Group.Timeout = usual; }
    }

    /// <summary>
    /// Whether <paramref name="e"/> is this rank's alone (it cannot read its data, runs out of memory, an I/O error), so
    /// that the job must end from here: the other ranks would wait for it. A divergence, a usage error or ranks that
    /// disagree on the run are met by every rank together; rank 0 reports those and all exit normally.
    /// </summary>
    public static bool IsLocal(Exception e) => e is not (DivergenceException or UsageException or ProcessGroupException);

    /// <summary>This rank's number among the ranks on its machine, as the launcher tells it (0 when it does not): which GPU it takes.</summary>
    public static int LocalRank()
    {
        foreach (string name in (string[])["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"])
            if (int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int local)) return local;
        return 0;
    }

    /// <summary>Kernel threads per rank by default: the cores shared among the ranks on this machine, as the launcher tells it.</summary>
    public static int DefaultThreads()
    {
        if (!MpiLaunch.Current.Parallel) return Environment.ProcessorCount;
        foreach (string name in (string[])["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"])
            if (int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int local) && local > 0)
                return Math.Max(1, Environment.ProcessorCount / local);
        return Environment.ProcessorCount;
    }

    /// <summary>Finalises MPI.</summary>
    public void Dispose() => Group.Dispose();
}
