using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace ScratchNet.Bench;

/// <summary>
/// The two builds of libtorch that bench conv and bench cnn race against, each in a process of its own with the same
/// arguments and JSON lines: Debian's python3-torch 1.13 (bench/conv_peer.py, bench/cnn_train_peer.py) and TorchSharp
/// 0.107's libtorch 2.10 (bench/torchsharp-cnn, built in the user cache by bench/build-torchsharp-peer.sh), both with
/// oneDNN. A suite keeps, line by line, the faster of those present, and says which one was missing.
/// </summary>
internal sealed class CnnPeer
{
    private readonly string _file;
    private readonly Func<string, string[]> _arguments;   // a mode ("conv" or "train") to the leading arguments

    private CnnPeer(string name, string key, string file, Func<string, string[]> arguments) => (Name, Key, _file, _arguments) = (name, key, file, arguments);

    /// <summary>How a result line names it.</summary>
    public string Name { get; }

    /// <summary>The field that carries its own value beside the faster one's.</summary>
    public string Key { get; }

    private const string PyTorchKey = "peer_pytorch", TorchSharpKey = "peer_torchsharp";

    /// <summary>Every peer's <see cref="Key"/>: each line has them all, null for a peer not found or failed.</summary>
    public static readonly string[] Keys = [PyTorchKey, TorchSharpKey];

    /// <summary>Each peer's own value under its <see cref="Key"/>, null for one not found (or, as <paramref name="value"/> says, without a result).</summary>
    public static List<KeyValuePair<string, object?>> EachValue(IReadOnlyList<CnnPeer> found, Func<CnnPeer, double?> value) =>
        Keys.Select(key => new KeyValuePair<string, object?>(key, found.FirstOrDefault(peer => peer.Key == key) is { } peer ? value(peer) : null)).ToList();

    /// <summary>A line's note: the peers not found and those that failed, or null when both ran.</summary>
    public static string? Note(string? missing, IEnumerable<string> failures)
    {
        var parts = new[] { missing }.Concat(failures).OfType<string>().ToList();
        return parts.Count == 0 ? null : string.Join("; ", parts);
    }

    /// <summary>The peers found on this machine, and a note for each one that is not.</summary>
    public static (IReadOnlyList<CnnPeer> Found, string? Missing) Locate()
    {
        var found = new List<CnnPeer>();
        var missing = new List<string>();
        string? conv = Repository.Find(Path.Combine("bench", "conv_peer.py")), train = Repository.Find(Path.Combine("bench", "cnn_train_peer.py"));
        if (conv is not null && train is not null && File.Exists("/usr/bin/python3"))
            found.Add(new("pytorch 1.13 (oneDNN)", PyTorchKey, "/usr/bin/python3", mode => [mode == "conv" ? conv : train]));
        else missing.Add("pytorch peer skipped: bench/conv_peer.py, bench/cnn_train_peer.py or /usr/bin/python3 not found");
        if (PeerCache.Locate("SCRATCHNET_TORCHSHARP_CNN_PEER", "torchsharp-cnn", "TorchSharpCnn") is { } executable)
            found.Add(new("libtorch 2.10 (TorchSharp 0.107, oneDNN)", TorchSharpKey, executable, mode => [mode]));
        else missing.Add("torchsharp peer skipped: build it with bench/build-torchsharp-peer.sh or set SCRATCHNET_TORCHSHARP_CNN_PEER");
        return (found, missing.Count == 0 ? null : string.Join("; ", missing));
    }

    /// <summary>Runs one mode; its JSON lines, or a line saying why there are none (its error output's last line, a file that does not start, output that is not JSON).</summary>
    public (IReadOnlyList<JsonElement> Lines, string? Error) Run(string mode, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(_file, [.. _arguments(mode), .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) return ([], $"{Name} failed: {stderr.Result.Trim().Split('\n')[^1]}");
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.StartsWith('{'))
                .Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
            return lines.Count == 0 ? ([], $"{Name} printed no JSON") : (lines, null);
        }
        catch (Win32Exception error) { return ([], $"{Name}: {_file} does not start ({error.Message})"); }
        catch (JsonException error) { return ([], $"{Name} printed a line that is not JSON ({error.Message})"); }
    }
}

/// <summary>The TorchSharp peers bench/build-torchsharp-peer.sh builds in the user cache.</summary>
internal static class PeerCache
{
    /// <summary>The executable <paramref name="variable"/> names, else <paramref name="project"/>'s build in the cache, if either exists.</summary>
    public static string? Locate(string variable, string project, string executable)
    {
        string? configured = Environment.GetEnvironmentVariable(variable);
        string cached = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "scratchnet", "peers",
            project, "bin", "Release", "net10.0", "linux-x64", executable);
        return new[] { configured, cached }.FirstOrDefault(File.Exists);
    }
}

/// <summary>Files of the repository, looked for above the binaries and above the working folder.</summary>
internal static class Repository
{
    public static string? Find(string relative)
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        return null;
    }
}
