namespace ScratchNet.Cli;

public static class CliApp
{
    public static int Run(string[] args, TextWriter output, TextWriter error) => 0;
}
