using System.Diagnostics;

namespace ScratchNet.Tests.Mpi;

/// <summary>The two MPI implementations the tests launch on loopback, each by its own explicit mpirun.</summary>
public enum Launcher
{
    OpenMpi,
    Mpich,
}

/// <summary>A fact that runs only where the launcher is installed; skipped with the reason otherwise.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute(Launcher launcher = Launcher.OpenMpi)
    {
        if (MpiJob.Missing(launcher) is { } reason) Skip = reason;
    }
}

/// <summary>A theory that runs only where the launcher is installed.</summary>
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    public MpiTheoryAttribute(Launcher launcher = Launcher.OpenMpi)
    {
        if (MpiJob.Missing(launcher) is { } reason) Skip = reason;
    }
}

/// <summary>Tests that start MPI jobs run alone: each job takes every core, and some time how fast the others end.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MpiCollection
{
    public const string Name = "MPI jobs";
}

/// <summary>An mpirun job of the built CLI or of the probe (tests/ScratchNet.Mpi.Probe) on this machine.</summary>
internal static class MpiJob
{
    /// <summary>Set on every job, so that a test finds the processes of its own job in /proc.</summary>
    public const string MarkerVariable = "SCRATCHNET_TEST_JOB";

    public static string Program(Launcher launcher) => launcher == Launcher.OpenMpi ? "/usr/bin/mpirun.openmpi" : "/usr/bin/mpirun.mpich";

    private static string Library(Launcher launcher) => launcher == Launcher.OpenMpi ? "libmpi.so.40" : "libmpich.so.12";

    /// <summary>Why jobs of <paramref name="launcher"/> cannot run here, or null.</summary>
    public static string? Missing(Launcher launcher)
    {
        if (!OperatingSystem.IsLinux()) return "MPI jobs are tested on Linux";
        if (!File.Exists(Program(launcher)))
            return $"{Program(launcher)} is not installed (apt-get install {(launcher == Launcher.OpenMpi ? "openmpi-bin libopenmpi-dev" : "mpich")})";
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad(Library(launcher), out _)) return $"{Library(launcher)} does not load";
        return null;
    }

    public static string Cli => Path.Combine(AppContext.BaseDirectory, "ScratchNet.Cli.dll");

    public static string Probe => BuildOutputs.Of("tests/ScratchNet.Mpi.Probe", "ScratchNet.Mpi.Probe.dll");

    /// <summary>The start of <c>mpirun -np ranks dotnet program args</c> in <paramref name="folder"/>, with the marker (and <paramref name="environment"/>) passed to every rank.</summary>
    /// <remarks>
    /// With <paramref name="rankFolders"/>, rank r runs in rankFolders[r] (one MPMD context per rank, <c>-wdir</c>), as ranks
    /// on machines whose disks differ; <paramref name="ranks"/> must be their count.
    /// </remarks>
    public static ProcessStartInfo StartInfo(Launcher launcher, int ranks, string program, IEnumerable<string> args, string folder, string marker,
        IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? rankFolders = null)
    {
        var variables = new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { [MarkerVariable] = marker };
        var arguments = new List<string>();
        if (launcher == Launcher.OpenMpi)
        {
            arguments.AddRange(["--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]);
            foreach (string name in variables.Keys) arguments.AddRange(["-x", name]);
        }
        else
        {
            foreach (var (name, value) in variables) arguments.AddRange(["-genv", name, value]);
        }
        if (rankFolders is null) arguments.AddRange(["-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), BuildOutputs.Dotnet, program, .. args]);
        else
        {
            Assert.Equal(ranks, rankFolders.Count);
            for (int rank = 0; rank < ranks; rank++)
            {
                if (rank > 0) arguments.Add(":");
                arguments.AddRange(["-np", "1", "-wdir", rankFolders[rank], BuildOutputs.Dotnet, program, .. args]);
            }
        }
        var start = new ProcessStartInfo(Program(launcher), arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        foreach (var (name, value) in variables) start.Environment[name] = value;
        // A test host's own launcher variables (should it run under one) must not leak into the jobs it starts.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("OMPI_", StringComparison.Ordinal) || k.StartsWith("PMI", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        return start;
    }

    /// <summary>Runs a job to its end (killing it after <paramref name="timeoutSeconds"/>): exit code, standard output and error, seconds.</summary>
    public static (int ExitCode, string Output, string Error, double Seconds) Run(Launcher launcher, int ranks, string program, IEnumerable<string> args, string folder,
        IReadOnlyDictionary<string, string>? environment = null, int timeoutSeconds = 120, IReadOnlyList<string>? rankFolders = null)
    {
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(StartInfo(launcher, ranks, program, args, folder, Guid.NewGuid().ToString("N"), environment, rankFolders))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the job ({string.Join(' ', args)}) did not end within {timeoutSeconds} s");
        }
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The process of rank <paramref name="rank"/> of the job marked <paramref name="marker"/> (Open MPI names the rank in its environment).</summary>
    public static int? RankProcess(string marker, int rank)
    {
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out int pid)) continue;
            string environ;
            try { environ = File.ReadAllText(Path.Combine(folder, "environ")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            var variables = environ.Split('\0');
            if (variables.Contains($"{MarkerVariable}={marker}") && (variables.Contains($"OMPI_COMM_WORLD_RANK={rank}") || variables.Contains($"PMI_RANK={rank}"))) return pid;
        }
        return null;
    }

    /// <summary>The tensor bytes of a safetensors file (everything after the header): equal when every tensor is equal bit for bit.</summary>
    public static byte[] TensorBytes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long header = BitConverter.ToInt64(bytes, 0);
        return bytes[(int)(8 + header)..];
    }

    /// <summary>history.csv without its seconds column (wall time differs from run to run).</summary>
    public static string[] History(string runFolder)
    {
        var lines = File.ReadAllLines(Path.Combine(runFolder, "history.csv"));
        int seconds = Array.IndexOf(lines[0].Split(','), "seconds");
        return [.. lines.Select(l => string.Join(',', l.Split(',').Where((_, i) => i != seconds)))];
    }
}
