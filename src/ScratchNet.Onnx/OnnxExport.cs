using System.Numerics;
using Google.Protobuf;
using Onnx;
using ScratchNet.Layers;

namespace ScratchNet.Onnx;

/// <summary>Writes a <see cref="Network{T}"/> as an ONNX model (opset 13, float32).</summary>
public static class OnnxExport
{
    /// <summary>The ONNX opset the exported graph uses.</summary>
    public const int Opset = 13;

    /// <summary>
    /// Exports <paramref name="network"/> to <paramref name="path"/> (atomically): one <c>Gemm</c> (transB = 1)
    /// per linear layer, <c>Relu</c>, and <c>Softmax</c> (axis −1); input "input" (N, inputs) and output
    /// "output" (N, outputs), float32, with N a dynamic batch dimension named "batch". Weights of a
    /// <c>Network&lt;double&gt;</c> are rounded to float32. The graph computes <see cref="Network{T}.Predict"/>.
    /// </summary>
    /// <exception cref="NetworkBuildException">The network does not build.</exception>
    /// <exception cref="NotSupportedException">A GELU layer: ONNX has Gelu only from opset 20.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void ExportOnnx<T>(this Network<T> network, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var model = ToModel(network);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>The ONNX model of <paramref name="network"/>, as <see cref="ExportOnnx{T}"/> writes it.</summary>
    public static ModelProto ToModel<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        var graph = new GraphProto { Name = "scratchnet" };
        graph.Input.Add(Value("input", network.Inputs));
        graph.Output.Add(Value("output", network.Outputs));
        string current = "input";
        for (int i = 0; i < network.Layers.Count; i++)
        {
            string output = i == network.Layers.Count - 1 ? "output" : $"x{i}";
            var node = new NodeProto { Name = $"{i}", Output = { output } };
            switch (network.Layers[i])
            {
                case Linear<T> linear:
                    graph.Initializer.Add(Initializer($"{i}.weight", linear.Weight.Value.Span, linear.OutputSize, linear.InputSize));
                    graph.Initializer.Add(Initializer($"{i}.bias", linear.Bias.Value.Span, linear.OutputSize));
                    node.OpType = "Gemm";
                    node.Input.Add([current, $"{i}.weight", $"{i}.bias"]);
                    node.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                    break;
                case Relu<T> or Sigmoid<T> or Tanh<T>:
                    // Element-wise activations with no attributes: the ONNX operator is the layer's name.
                    node.OpType = network.Layers[i] switch { Relu<T> => "Relu", Sigmoid<T> => "Sigmoid", _ => "Tanh" };
                    node.Input.Add(current);
                    break;
                case Softmax<T>:
                    node.OpType = "Softmax";
                    node.Input.Add(current);
                    node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
                    break;
                case LeakyRelu<T> leaky:
                    node.OpType = "LeakyRelu";
                    node.Input.Add(current);
                    node.Attribute.Add(new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = (float)leaky.NegativeSlope });
                    break;
                case var other:
                    throw new NotSupportedException($"Layer #{i} {other} has no ONNX export at opset 13 (GELU needs opset 20).");
            }
            graph.Node.Add(node);
            current = output;
        }
        return new ModelProto
        {
            IrVersion = 8,
            ProducerName = "ScratchNet",
            ProducerVersion = typeof(Network<>).Assembly.GetName().Version?.ToString() ?? "",
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = Opset } },
            Graph = graph,
        };
    }

    // A float32 (batch, width) value with a symbolic batch dimension.
    private static ValueInfoProto Value(string name, int width) => new()
    {
        Name = name,
        Type = new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor
            {
                ElemType = (int)TensorProto.Types.DataType.Float,
                Shape = new TensorShapeProto
                {
                    Dim = { new TensorShapeProto.Types.Dimension { DimParam = "batch" }, new TensorShapeProto.Types.Dimension { DimValue = width } },
                },
            },
        },
    };

    private static TensorProto Initializer<T>(string name, ReadOnlySpan<T> values, params long[] dims) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(dims);
        var floats = new float[values.Length];
        for (int k = 0; k < floats.Length; k++) floats[k] = float.CreateChecked(values[k]);
        tensor.FloatData.Add(floats);
        return tensor;
    }
}
