using System.Globalization;

namespace ScratchNet.Mpi;

/// <summary>
/// Whether this process was started by an MPI launcher, read from the environment alone (no library is loaded):
/// Open MPI's <c>mpirun</c> sets <c>OMPI_COMM_WORLD_SIZE</c>/<c>_RANK</c>, MPICH's Hydra <c>PMI_SIZE</c>/<c>PMI_RANK</c>,
/// PMIx launchers (<c>srun --mpi=pmix</c>, Open MPI 5) <c>PMIX_RANK</c> (with the size in Slurm's <c>SLURM_NTASKS</c>).
/// </summary>
/// <param name="Launched">A launcher's variables are present.</param>
/// <param name="Rank">This process's rank as the launcher says (0 when unknown).</param>
/// <param name="Size">The world size as the launcher says (1 when unknown).</param>
/// <param name="Preferred">The ABI the launcher belongs to, tried first; null when it does not say.</param>
public sealed record MpiLaunch(bool Launched, int Rank, int Size, MpiAbi? Preferred)
{
    /// <summary>The environment variable that names the MPI library to load instead of the usual ones (a path or a soname).</summary>
    public const string LibraryVariable = "SCRATCHNET_MPI_LIBRARY";

    /// <summary>What this process's environment says.</summary>
    public static MpiLaunch Current { get; } = FromEnvironment(name => Environment.GetEnvironmentVariable(name));

    /// <summary>Reads the launcher variables through <paramref name="get"/> (for tests).</summary>
    public static MpiLaunch FromEnvironment(Func<string, string?> get)
    {
        if (Number(get("OMPI_COMM_WORLD_SIZE")) is { } ompiSize)
            return new MpiLaunch(true, Number(get("OMPI_COMM_WORLD_RANK")) ?? 0, ompiSize, MpiAbi.OpenMpi);
        if (Number(get("PMI_SIZE")) is { } pmiSize)
            return new MpiLaunch(true, Number(get("PMI_RANK")) ?? 0, pmiSize, MpiAbi.Mpich);
        if (Number(get("PMIX_RANK")) is { } pmixRank)
            return new MpiLaunch(true, pmixRank, Number(get("SLURM_NTASKS")) ?? Number(get("PMIX_SIZE")) ?? 2, null);
        return new MpiLaunch(false, 0, 1, null);
    }

    /// <summary>Launched with more than one process: training is data-parallel over MPI.</summary>
    public bool Parallel => Launched && Size > 1;

    /// <summary>Launched, and not rank 0: this process prints and writes nothing of its own.</summary>
    public bool Secondary => Launched && Rank != 0;

    private static int? Number(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;
}
