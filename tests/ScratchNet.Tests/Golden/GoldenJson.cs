using System.Globalization;
using System.Text.Json;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// A golden file of the tools/golden scripts ({…, "tensors": {name: {"shape", "data"}}}) and the one comparison
/// the layer goldens use: |actual − expected| ≤ tolerance · max(1, |expected|), tracking the worst scaled error.
/// </summary>
internal sealed class GoldenJson(string relativePath, double tolerance) : IDisposable
{
    private readonly JsonDocument _document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, relativePath)));

    public JsonElement Root => _document.RootElement;

    public double Worst { get; private set; }

    public double[] Data(string name) =>
        [.. Root.GetProperty("tensors").GetProperty(name).GetProperty("data").EnumerateArray().Select(e => e.GetDouble())];

    public int[] Shape(string name) =>
        [.. Root.GetProperty("tensors").GetProperty(name).GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())];

    public void Compare(string name, ReadOnlySpan<double> actual)
    {
        var expected = Data(name);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / Math.Max(1, Math.Abs(expected[i]));
            Worst = Math.Max(Worst, error);
            Assert.True(error <= tolerance, string.Create(CultureInfo.InvariantCulture,
                $"{name}[{i}]: ScratchNet {actual[i]:R}, torch {expected[i]:R}, scaled error {error:E2}."));
        }
    }

    public void Dispose() => _document.Dispose();
}
