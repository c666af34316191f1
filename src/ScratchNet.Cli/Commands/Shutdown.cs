using System.Runtime.InteropServices;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// The one shutdown path of a training command: SIGINT (Ctrl-C), SIGTERM (<c>kill</c>, <c>timeout</c>, systemd,
/// <c>docker stop</c>, batch schedulers) and SIGHUP (the terminal closed) all become the cancellation the trainer
/// checks after each batch, instead of ending the process. The run stops after the batch that is running, saves
/// what was trained (and its checkpoint), and the command exits with 128 + the signal's number (130, 143, 129),
/// as a shell reports a process that the signal ended. A further signal while it stops and saves is held too:
/// the save is waited for, never cut short (SIGKILL still ends the process at once; every file is written
/// atomically, so the files already there stay whole).
/// </summary>
internal sealed class Shutdown : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly TextWriter _error;
    private int _signal;          // the first signal's number; 0 before one arrives
    private int _held;            // signals held after the first

    private Shutdown(TextWriter error)
    {
        _error = error;
        _registrations = [.. ((PosixSignal[])[PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP]).Select(s => PosixSignalRegistration.Create(s, Handle))];
    }

    /// <summary>Starts holding the signals until disposed; a note about a held signal goes to <paramref name="error"/>.</summary>
    public static Shutdown Listen(TextWriter error) => new(error);

    /// <summary>Cancelled when the first signal arrives.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The first signal's number (2, 15, 1), or null while none has arrived.</summary>
    public int? Signal => Volatile.Read(ref _signal) is var s and > 0 ? s : null;

    /// <summary><paramref name="code"/>, or 128 + the signal's number once a signal has arrived.</summary>
    public int ExitCode(int code) => Signal is { } signal ? 128 + signal : code;

    /// <summary>The POSIX number of <paramref name="signal"/> (the same on Linux and macOS).</summary>
    public static int Number(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        _ => (int)signal,
    };

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true;   // the process goes on: the run stops at its next batch boundary and saves
        if (Interlocked.CompareExchange(ref _signal, Number(context.Signal), 0) == 0)
        {
            _source.Cancel();
            return;
        }
        if (Interlocked.Increment(ref _held) == 1)
            _error.WriteLine($"# {context.Signal} held: the run is stopping and saving what was trained; it exits when the files are written");
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _source.Dispose();
    }
}
