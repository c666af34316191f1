using System.Text.RegularExpressions;
using ScratchNet.Data;
using ScratchNet.Interactive;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Tests.Interactive;

/// <summary>What a notebook shows for ScratchNet's types (ScratchNet.Interactive): pictures as embedded PNGs, tables from the public API.</summary>
public class FormatterTests
{
    private static readonly byte[] PngMagic = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static Network<float> DigitsNet()
    {
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, learningRate: 0.1);
        net.AddLinear(16); net.AddRelu(); net.AddDropout(0.1);
        net.AddLinear(Digits.Classes); net.AddSoftmax();
        return net;
    }

    private static byte[][] EmbeddedPngs(string html) =>
        [.. Regex.Matches(html, "data:image/png;base64,([A-Za-z0-9+/=]+)").Select(m => Convert.FromBase64String(m.Groups[1].Value))];

    [Fact]
    public void NetworkSummaryCountsEachLayersParameters()
    {
        var rows = NetworkSummary.Rows(DigitsNet());
        Assert.Equal(["input", "linear", "relu", "dropout", "linear", "softmax"], rows.Select(r => r.Kind));
        Assert.Equal([0L, 64 * 16 + 16, 0, 0, 16 * 10 + 10, 0], rows.Select(r => r.Parameters));
        Assert.Equal("(batch, 16)", rows[1].OutputShape);
        string text = NetworkSummary.Text(DigitsNet());
        Assert.EndsWith("total parameters: 1,210; loss: CrossEntropy", text);
        string html = ScratchNetFormatters.NetworkHtml(DigitsNet());
        Assert.Contains("<td>0 linear</td><td>(batch, 16)</td><td>1,040</td>", html);
    }

    [Fact]
    public void HistoryShowsItsCurvesAsAPngAndATable()
    {
        var history = new Trainer<float>(DigitsNet(), Digits.Load<float>()).Train(epochs: 2, batchSize: 64);
        string html = ScratchNetFormatters.HistoryHtml(history, "digits");
        var png = Assert.Single(EmbeddedPngs(html));
        Assert.Equal(PngMagic, png[..8]);
        Assert.True(png.Length > 10_000, $"{png.Length} bytes");                  // a real figure, not an empty frame
        Assert.Equal(3, Regex.Matches(html, "<tr><td>").Count);                 // epochs -1, 0, 1
        Assert.Throws<ArgumentException>(() => ScratchNetFormatters.HistoryHtml(new History([])));
    }

    [Fact]
    public void MatrixShowsItsShapeAndAnEscapedPreview()
    {
        var m = new Matrix<double>(30, 3);
        m[29, 2] = -1.5;
        string html = ScratchNetFormatters.MatrixHtml(m);
        Assert.StartsWith("<pre>Matrix&lt;double&gt; (30, 3)\n[[", html);
        Assert.EndsWith("-1.5]]</pre>", html);
        Assert.Equal(1 + 11, html.Split('\n').Length);                           // shape, 5 rows, …, 5 rows
    }

    [Fact]
    public void ConfusionMatrixCountsPredictionsAndShowsAHeatmap()
    {
        var data = Digits.Load<float>();
        var net = DigitsNet();
        new Trainer<float>(net, data).Train(epochs: 3, batchSize: 32);
        var confusion = ConfusionMatrix.Of(net, data);
        Assert.Equal(data.Count, confusion.Total);
        int[] predicted = net.PredictClasses(data.Features);
        Assert.Equal(Enumerable.Range(0, data.Count).Count(i => predicted[i] == data.ClassOf(i)) / (double)data.Count, confusion.Accuracy, 12);
        Assert.Equal(Enumerable.Range(0, data.Count).Count(i => data.ClassOf(i) == 3 && predicted[i] == 5), confusion.Counts[3, 5]);
        string html = ScratchNetFormatters.ConfusionHtml(confusion);
        Assert.Equal(PngMagic, Assert.Single(EmbeddedPngs(html))[..8]);
        Assert.Contains($"accuracy: {confusion.Accuracy:F4}", confusion.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfusionMatrix.Of(net, data.Features, Enumerable.Repeat(10, data.Count).ToArray()));
    }
}
