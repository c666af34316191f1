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
    /// Exports <paramref name="network"/> to <paramref name="path"/> (atomically): each layer writes its own nodes
    /// (<see cref="Layer{T}.Export"/>: <c>Gemm</c> for a linear layer, <c>BatchNormalization</c>, <c>Identity</c> for
    /// dropout, <c>Add</c> for a residual block, the activations by their ONNX names, GELU in opset-13 operators);
    /// input "input" (N, inputs), or (N, C, H, W) for a network declared with an image shape, and output "output" (N, outputs), float32, with N a dynamic batch dimension
    /// named "batch". Weights of a <c>Network&lt;double&gt;</c> are rounded to float32. The graph computes
    /// <see cref="Network{T}.Predict"/>.
    /// </summary>
    /// <exception cref="NetworkBuildException">The network does not build.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names it.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void ExportOnnx<T>(this Network<T> network, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var model = ToModel(network);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>The ONNX model of <paramref name="network"/>, as <see cref="ExportOnnx{T}"/> writes it.</summary>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names it.</exception>
    public static ModelProto ToModel<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Build();
        var graph = new GraphProto { Name = "scratchnet" };
        graph.Input.Add(Value("input", network.InputShape));   // (N, C, H, W) for an image network
        graph.Output.Add(Value("output", network.Outputs));
        var builder = new GraphBuilder<T>(graph);
        string current = "input";
        for (int i = 0; i < network.Layers.Count; i++) current = network.Layers[i].Export(builder, current, $"{i}");
        builder.NameOutput(current, "output");
        return new ModelProto
        {
            IrVersion = 8,
            ProducerName = "ScratchNet",
            ProducerVersion = typeof(Network<>).Assembly.GetName().Version?.ToString() ?? "",
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = Opset } },
            Graph = graph,
        };
    }

    // The layers' view of the graph: nodes get numbered values "x0", "x1", …, initializers the layers' state names.
    private sealed class GraphBuilder<T>(GraphProto graph) : IGraphBuilder<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Dictionary<string, int> _nodesPerLayer = [];
        private int _values;

        public string AddNode(string opType, string name, IReadOnlyList<string> inputs, IReadOnlyList<KeyValuePair<string, object>>? attributes = null)
        {
            int count = _nodesPerLayer.GetValueOrDefault(name);
            _nodesPerLayer[name] = count + 1;
            var node = new NodeProto { Name = count == 0 ? name : $"{name}/{count}", OpType = opType, Output = { $"x{_values++}" } };
            node.Input.Add(inputs);
            foreach (var (key, value) in attributes ?? [])
                node.Attribute.Add(value switch
                {
                    long i => new AttributeProto { Name = key, Type = AttributeProto.Types.AttributeType.Int, I = i },
                    float f => new AttributeProto { Name = key, Type = AttributeProto.Types.AttributeType.Float, F = f },
                    long[] ints => new AttributeProto { Name = key, Type = AttributeProto.Types.AttributeType.Ints, Ints = { ints } },
                    _ => throw new ArgumentException($"ONNX attribute '{key}' of layer {name}: a {value.GetType().Name} is neither long, float nor long[]."),
                });
            graph.Node.Add(node);
            return node.Output[0];
        }

        public string AddInitializer(string name, ReadOnlySpan<T> values, Shape shape)
        {
            graph.Initializer.Add(Initializer(name, values, shape.ToLongArray()));
            return name;
        }

        // The graph's result must carry the output's name: rename the value the last node wrote, or pass the input through.
        public void NameOutput(string value, string output)
        {
            if (value == "input")
            {
                AddNode("Identity", "output", [value]);
                value = graph.Node[^1].Output[0];
            }
            foreach (var node in graph.Node)
                for (int k = 0; k < node.Input.Count; k++)
                    if (node.Input[k] == value) node.Input[k] = output;
            foreach (var node in graph.Node)
                for (int k = 0; k < node.Output.Count; k++)
                    if (node.Output[k] == value) node.Output[k] = output;
        }
    }

    // A float32 (batch, sample shape…) value with a symbolic batch dimension.
    private static ValueInfoProto Value(string name, Shape sample)
    {
        var value = Value(name, sample[0]);
        for (int i = 1; i < sample.Rank; i++) value.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = sample[i] });
        return value;
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
