namespace ScratchNet.Tests;

/// <summary>What the tests start as child processes: the dotnet host, and assemblies that other projects of the repository built.</summary>
internal static class BuildOutputs
{
    /// <summary>The host running the tests (dotnet test sets DOTNET_HOST_PATH), else the one on the PATH.</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>
    /// <paramref name="assembly"/> as <paramref name="project"/> (a folder from the repository root) built it in the tests'
    /// configuration and framework: tests/ScratchNet.Tests/bin/CONFIG/FRAMEWORK/ → PROJECT/bin/CONFIG/FRAMEWORK/.
    /// </summary>
    public static string Of(string project, string assembly)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = output.Name, configuration = output.Parent!.Name;
        string root = output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(root, project, "bin", configuration, framework, assembly);
    }
}
