using System.Numerics;
using System.Text.Json;
using ScratchNet.Layers;
using Xunit.Abstractions;

namespace ScratchNet.Tests.Golden;

/// <summary>
/// The image layers against torch.nn.functional (tools/golden/make_conv_golden.py): conv2d, max_pool2d, avg_pool2d,
/// global average pooling and batch_norm in training and inference, at odd sizes, strides and paddings; each case's
/// output, input gradient and parameter gradients (and batch norm's running estimates), in float64 within 1e-10 and
/// in float32 within 1e-5, each scaled by max(1, |expected|).
/// </summary>
public class ConvGoldenTests(ITestOutputHelper output)
{
    private static readonly string File = Path.Combine("Golden", "Layers", "conv.json");

    public static TheoryData<string> Cases()
    {
        using var golden = new GoldenJson(File, 0);
        var data = new TheoryData<string>();
        foreach (var c in golden.Root.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerMatchesTorch(string name)
    {
        using var probe = new GoldenJson(File, 0);
        var entry = probe.Root.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        if (entry.GetProperty("dtype").GetString() == "float64") Run<double>(name, entry, 1e-10);
        else Run<float>(name, entry, 1e-5);
    }

    private void Run<T>(string name, JsonElement entry, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var golden = new GoldenJson(File, tolerance);
        var shape = new Shape([.. entry.GetProperty("input_shape").EnumerateArray().Select(e => e.GetInt32())]);
        var settings = entry.GetProperty("layer");
        T[] Data(string tensor) => [.. golden.Data($"{name}/{tensor}").Select(T.CreateChecked)];
        void Compare(string tensor, ReadOnlySpan<T> actual)
        {
            var values = new double[actual.Length];
            for (int i = 0; i < values.Length; i++) values[i] = double.CreateChecked(actual[i]);
            golden.Compare($"{name}/{tensor}", values);
        }
        int[] Pair(string key) => [.. settings.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];

        Layer<T> layer;
        switch (settings.GetProperty("type").GetString())
        {
            case "conv2d":
                int outChannels = settings.GetProperty("out_channels").GetInt32(), groups = settings.GetProperty("groups").GetInt32();
                bool bias = settings.GetProperty("bias").GetBoolean();
                int[] kernel = Pair("kernel_size");
                var conv = settings.GetProperty("padding").ValueKind == JsonValueKind.String
                    ? Conv2d<T>.Same(shape, outChannels, (kernel[0], kernel[1]), bias, groups)
                    : new Conv2d<T>(shape, outChannels, (kernel[0], kernel[1]), (Pair("stride")[0], Pair("stride")[1]), (Pair("padding")[0], Pair("padding")[1]), bias, groups);
                Data("weight").CopyTo(conv.Weight.Value.Span);
                if (conv.Bias is not null) Data("bias").CopyTo(conv.Bias.Value.Span);
                layer = conv;
                break;
            case "maxpool2d":
                layer = new MaxPool2d<T>(shape, (Pair("kernel_size")[0], Pair("kernel_size")[1]), (Pair("stride")[0], Pair("stride")[1]), (Pair("padding")[0], Pair("padding")[1]));
                break;
            case "avgpool2d":
                layer = new AvgPool2d<T>(shape, (Pair("kernel_size")[0], Pair("kernel_size")[1]), (Pair("stride")[0], Pair("stride")[1]), (Pair("padding")[0], Pair("padding")[1]),
                    settings.GetProperty("count_include_pad").GetBoolean());
                break;
            case "global_avgpool2d":
                layer = new GlobalAvgPool2d<T>(shape);
                break;
            case "linear":
                int outputs = settings.GetProperty("out").GetInt32();
                var linear = new Linear<T>(new Matrix<T>(outputs, shape.Size, Data("weight")),
                    settings.GetProperty("bias").GetBoolean() ? new Matrix<T>(1, outputs, Data("bias")) : null, regularized: false);
                Assert.Equal(settings.GetProperty("bias").GetBoolean() ? 2 : 1, linear.Parameters.Count);
                layer = linear;
                break;
            default:
                var bn = new BatchNorm2d<T>(shape, settings.GetProperty("momentum").GetDouble(), settings.GetProperty("eps").GetDouble(), settings.GetProperty("affine").GetBoolean())
                {
                    Training = settings.GetProperty("training").GetBoolean(),
                };
                if (bn.Affine)
                {
                    Data("weight").CopyTo(bn.Weight!.Value.Span);
                    Data("bias").CopyTo(bn.Bias!.Value.Span);
                }
                Data("running_mean_0").CopyTo(bn.RunningMean.Span);
                Data("running_var_0").CopyTo(bn.RunningVariance.Span);
                layer = bn;
                break;
        }

        var x = Data("x");
        var input = new Matrix<T>(x.Length / shape.Size, shape.Size, x);
        var g = Data("g");
        Compare("y", layer.Forward(input).Span);
        foreach (var p in layer.Parameters) p.ZeroGradient();
        Compare("dx", layer.Backward(new Matrix<T>(input.Rows, layer.OutputSize, g)).Span);
        foreach (var p in layer.Parameters) Compare($"d{p.Name}", p.Gradient.Span);
        if (layer is BatchNorm2d<T> norm)
        {
            Compare("running_mean", norm.RunningMean.Span);
            Compare("running_var", norm.RunningVariance.Span);
        }
        output.WriteLine($"{name}: worst scaled error {golden.Worst:E2}");
    }
}
