using Spectre.Console;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// Spectre.Console for a writer: the real console (colours, live displays) when the writer is the process's
/// standard output on a terminal; otherwise a console that writes plain text (no escape codes) to the writer.
/// </summary>
internal static class Terminal
{
    /// <summary>Whether <paramref name="output"/> is an interactive terminal.</summary>
    public static bool IsInteractive(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static IAnsiConsole For(TextWriter output)
    {
        if (IsInteractive(output)) return AnsiConsole.Console;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        // A log or pipe has no width: wide enough that a 10-class table never wraps.
        console.Profile.Width = 200;
        return console;
    }
}

/// <summary>Class names of the catalog datasets, for tables and figures; other datasets' classes are their indices.</summary>
internal static class ClassNames
{
    private static readonly string[] FashionMnist = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    private static readonly string[] Cifar10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public static string[] For(string? dataset, int classes) => dataset switch
    {
        "fashion-mnist" when classes == 10 => FashionMnist,
        "cifar-10" when classes == 10 => Cifar10,
        _ => [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))],
    };
}
