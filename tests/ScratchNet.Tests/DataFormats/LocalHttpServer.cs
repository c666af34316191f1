using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ScratchNet.Tests.DataFormats;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 and a free port, for download tests without the internet.
/// Each path answers with a fixed body, a status code, a body cut short, or silence after the headers.
/// </summary>
internal sealed class LocalHttpServer : IDisposable
{
    public enum Behaviour { Serve, CutShort, Stall }

    private sealed record Route(byte[] Body, Behaviour Behaviour);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<string, Route> _routes = new();
    private readonly CancellationTokenSource _stop = new();

    public LocalHttpServer()
    {
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>The base URL, e.g. "http://127.0.0.1:45123/".</summary>
    public string BaseUrl => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

    /// <summary>Requests received, by path.</summary>
    public ConcurrentDictionary<string, int> Hits { get; } = new();

    /// <summary>Serves <paramref name="body"/> at /<paramref name="path"/>.</summary>
    public string Serve(string path, byte[] body, Behaviour behaviour = Behaviour.Serve)
    {
        _routes[path] = new Route(body, behaviour);
        return BaseUrl + path;
    }

    /// <summary>A URL on a port where nothing listens: connecting is refused at once.</summary>
    public static string Unreachable(string path)
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return $"http://127.0.0.1:{port}/{path}";
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Handle(client));
        }
    }

    private async Task Handle(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                string path = await ReadRequestPath(stream);
                Hits.AddOrUpdate(path, 1, (_, n) => n + 1);
                if (!_routes.TryGetValue(path, out var route))
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
                    return;
                }
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {route.Body.Length}\r\nConnection: close\r\n\r\n"));
                switch (route.Behaviour)
                {
                    case Behaviour.Serve:
                        await stream.WriteAsync(route.Body);
                        break;
                    case Behaviour.CutShort:
                        await stream.WriteAsync(route.Body.AsMemory(0, route.Body.Length / 2));
                        break;
                    case Behaviour.Stall:
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                        break;
                }
            }
            catch (Exception)
            {
                // The client went away, or the server is stopping: either ends this connection.
            }
        }
    }

    private static async Task<string> ReadRequestPath(NetworkStream stream)
    {
        var request = new StringBuilder();
        var buffer = new byte[1024];
        while (!request.ToString().Contains("\r\n\r\n"))
        {
            int read = await stream.ReadAsync(buffer);
            if (read == 0) break;
            request.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        // "GET /path HTTP/1.1"
        return request.ToString().Split(' ')[1].TrimStart('/');
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
