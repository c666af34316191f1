using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Training;

namespace ScratchNet.Tests.Friendly;

/// <summary>The conveniences a new user reaches for: class-index targets, class predictions, streams, readable text, async training.</summary>
public class FriendlyEdgesTests
{
    private static readonly Dataset<float> Data = Digits.Load<float>();

    private static Network<float> DigitsNet(ulong seed = 0)
    {
        var net = new Network<float>(Digits.Features, Digits.Classes, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.1, seed: seed);
        net.AddLinear(32); net.AddRelu();
        net.AddLinear(Digits.Classes); net.AddSoftmax();
        return net;
    }

    private static int[] Labels(Dataset<float> data) => [.. Enumerable.Range(0, data.Count).Select(data.ClassOf)];

    private static double[] Numbers(History history) =>
        [.. history.SelectMany(e => new[] { e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy })];

    [Fact]
    public void ClassIndexLabelsTrainExactlyAsOneHotTargets()
    {
        var oneHot = new Trainer<float>(DigitsNet(), Data).Train(epochs: 2, batchSize: 32);
        var labeled = new Trainer<float>(DigitsNet(), new LabeledSamples<float>(Data.Features, Labels(Data), Digits.Classes)).Train(epochs: 2, batchSize: 32);
        Assert.Equal(Numbers(oneHot), Numbers(labeled));
        Assert.True(labeled.Final.ValidationAccuracy > 0.8, labeled.Final.ToReportLine());
    }

    [Fact]
    public void LabeledSamplesRefuseLabelsOutsideTheClassesAndCountMismatches()
    {
        var x = new Matrix<float>(3, 2);
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => new LabeledSamples<float>(x, [0, 3, 1], classes: 3));
        Assert.Contains("Label 3 at row 1", outside.Message);
        Assert.Throws<ShapeMismatchException>(() => new LabeledSamples<float>(x, [0, 1], classes: 3));
        var batchX = new Matrix<float>(0, 2);
        var batchY = new Matrix<float>(0, 3);
        new LabeledSamples<float>(x, [2, 0, 1], classes: 3).Gather([2, 0], batchX, batchY);
        Assert.Equal([0f, 1, 0, 0, 0, 1], batchY.ToArray());
    }

    [Fact]
    public void PredictClassesIsTheArgmaxOfPredictAndEvaluateTakesLabels()
    {
        var net = DigitsNet();
        new Trainer<float>(net, Data).Train(epochs: 3, batchSize: 32);
        int[] classes = net.PredictClasses(Data.Features);
        var outputs = net.Predict(Data.Features);
        for (int r = 0; r < outputs.Rows; r++)
            Assert.Equal(outputs.Row(r).ToArray().AsSpan().IndexOf(outputs.Row(r).ToArray().Max()), classes[r]);
        int[] labels = Labels(Data);
        double accuracy = (double)classes.Zip(labels).Count(p => p.First == p.Second) / labels.Length;
        var byLabels = net.Evaluate(Data.Features, labels);
        Assert.Equal(net.Evaluate(Data.Features, Data.Targets), byLabels);
        Assert.Equal(accuracy, byLabels.Accuracy);
        Assert.True(accuracy > 0.85, $"accuracy {accuracy}");   // 0.899 after 3 epochs of this small net
    }

    [Fact]
    public void SaveAndLoadOnStreamsMatchTheFileAndAcceptUnseekableStreams()
    {
        var net = DigitsNet(seed: 3);
        new Trainer<float>(net, Data).Train(epochs: 1, batchSize: 64);
        string path = Path.Combine(Path.GetTempPath(), $"scratchnet-stream-{Guid.NewGuid():N}.safetensors");
        try
        {
            net.Save(path);
            var memory = new MemoryStream();
            net.Save(memory);
            Assert.Equal(File.ReadAllBytes(path), memory.ToArray());

            memory.Position = 0;
            var fromSeekable = Network<float>.Load(memory);
            var fromPipe = Network<double>.Load(new ForwardOnlyStream(File.ReadAllBytes(path)), "upload");
            Assert.Equal(net.Predict(Data.Features).ToArray(), fromSeekable.Predict(Data.Features).ToArray());
            Assert.Equal(net.PredictClasses(Data.Features), fromPipe.PredictClasses(Matrix<double>.From(ToArray2D(Data.Features))));

            var broken = new ForwardOnlyStream(File.ReadAllBytes(path)[..100]);
            var error = Assert.Throws<ModelFormatException>(() => Network<float>.Load(broken, "upload"));
            Assert.Contains("upload", error.Message);
            var moved = new MemoryStream(File.ReadAllBytes(path)) { Position = 8 };
            Assert.Throws<ArgumentException>(() => Network<float>.Load(moved));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void HistoryPrintsAsATable()
    {
        var history = new History(
            [new EpochStats(-1, 2.5, 0.1, 2.4, 0.125, 0), new EpochStats(0, 0.123456789, 0.95, 0.2, 0.9375, 1.5)],
            stopReason: StopReason.EarlyStopped, bestEpoch: 0);
        string[] lines = history.ToString().Split('\n');
        Assert.Equal("epoch  train_loss  train_acc  val_loss  val_acc  seconds", lines[0]);
        Assert.Equal("   -1         2.5     0.1000       2.4   0.1250     0.00", lines[1]);
        Assert.Equal("    0     0.12346     0.9500       0.2   0.9375     1.50", lines[2]);
        Assert.Equal(["stopped: EarlyStopped", "best epoch: 0"], lines[3..]);
        var withTest = new History([new EpochStats(0, 1, 0.5, 1, 0.5, 1, TestLoss: 0.75, TestAccuracy: 0.25)], hasTestSet: true);
        Assert.EndsWith("test_loss  test_acc", withTest.ToString().Split('\n')[0]);
        Assert.EndsWith("0.75    0.2500", withTest.ToString().Split('\n')[1]);
    }

    [Fact]
    public void MatrixPrintsItsShapeAndTheCornersOfItsValues()
    {
        var small = Matrix<double>.From(new[,] { { 1.0, -0.5 }, { 1e-7, 12345.678 } });
        Assert.Equal("Matrix<double> (2, 2)\n[[        1,      -0.5]\n [    1E-07, 1.235E+04]]", small.ToString());
        var large = new Matrix<float>(10, 20);
        for (int r = 0; r < 10; r++) for (int c = 0; c < 20; c++) large[r, c] = r * 100 + c;
        string[] lines = large.ToString().Split('\n');
        Assert.Equal("Matrix<float> (10, 20)", lines[0]);
        Assert.Equal(1 + 7, lines.Length);                                   // 3 rows, an elided row, 3 rows
        Assert.Equal("[[  0,   1,   2,   3,   …,  16,  17,  18,  19]", lines[1]);
        Assert.Equal(" [  …,   …,   …,   …,   …,   …,   …,   …,   …]", lines[4]);
        Assert.Equal(" [900, 901, 902, 903,   …, 916, 917, 918, 919]]", lines[7]);
        Assert.Equal("Matrix<float> (0, 5)", new Matrix<float>(0, 5).ToString());
    }

    [Fact]
    public async Task TrainAsyncReportsProgressAndStopsOnCancellation()
    {
        var expected = new Trainer<float>(DigitsNet(), Data).Train(epochs: 2, batchSize: 32);
        var batches = new List<BatchProgress>();
        var done = await new Trainer<float>(DigitsNet(), Data).TrainAsync(epochs: 2, batchSize: 32, new SynchronousProgress(batches.Add));
        Assert.Equal(Numbers(expected), Numbers(done));
        Assert.Equal(2 * 45, batches.Count);                                  // 1,438 training rows in batches of 32
        Assert.Equal(StopReason.Completed, done.StopReason);

        using var cancel = new CancellationTokenSource();
        var options = new TrainOptions
        {
            Epochs = 50, BatchSize = 32,
            Progress = new SynchronousProgress(p => { if (p.Epoch == 1 && p.Batch == 3) cancel.Cancel(); }),
        };
        var stopped = await new Trainer<float>(DigitsNet(), Data).TrainAsync(options, cancel.Token);
        Assert.Equal(StopReason.Cancelled, stopped.StopReason);
        Assert.Equal([-1, 0], stopped.Select(e => e.Epoch));
    }

    private static double[,] ToArray2D(Matrix<float> m)
    {
        var a = new double[m.Rows, m.Cols];
        for (int r = 0; r < m.Rows; r++) for (int c = 0; c < m.Cols; c++) a[r, c] = m[r, c];
        return a;
    }

    private sealed class SynchronousProgress(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }

    /// <summary>A stream that can only be read forwards, like a network upload.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
