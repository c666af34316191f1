using System.Numerics;
using ScratchNet.Layers;

namespace ScratchNet.Persistence;

/// <summary>
/// PyTorch interop, inward: a <c>torch.nn.Sequential</c>'s <c>state_dict()</c> saved as safetensors
/// (<c>safetensors.torch.save_file(model.state_dict(), path)</c>) loads into the ScratchNet network of the same
/// architecture, as <c>load_state_dict(strict=True)</c> would: layer i of the network takes the tensors named
/// <c>{i}.…</c>. A Linear takes <c>{i}.weight</c> (out, in) and <c>{i}.bias</c> (out); a BatchNorm1d
/// <c>{i}.weight</c>, <c>{i}.bias</c>, <c>{i}.running_mean</c>, <c>{i}.running_var</c> (features), its
/// <c>{i}.num_batches_tracked</c> is accepted and ignored; activations, dropout and softmax hold none. A PyTorch
/// classifier usually ends in a Linear (its loss applies the softmax); the ScratchNet network's final softmax comes
/// after it and takes the next index, which the file does not name.
/// </summary>
public static class StateDict
{
    /// <summary>Loads the state dict in the safetensors file <paramref name="path"/> into <paramref name="network"/>'s parameters (and batch-norm estimates).</summary>
    /// <exception cref="ModelFormatException">
    /// A tensor is missing, has another shape than the layer's, is not F32/F64, or belongs to no layer (strict, as PyTorch's
    /// default); the message names the file and the tensor. Nothing is changed then: every tensor is checked before any is copied.
    /// </exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static void LoadStateDict<T>(this Network<T> network, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        network.LoadStateDict(file, path);
    }

    /// <summary>As <see cref="LoadStateDict{T}(Network{T}, string)"/>, from a seekable stream at the start of the file; <paramref name="name"/> names it in errors.</summary>
    public static void LoadStateDict<T>(this Network<T> network, Stream stream, string name = "stream") where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        network.Build();
        network.SyncHost();   // what the file does not replace stays as the device has it
        var header = SafeTensors.ReadHeader(stream, name);
        var entries = header.Tensors.ToDictionary(t => t.Name);
        var targets = Targets(network);

        foreach (var (key, target) in targets)
        {
            if (!entries.TryGetValue(key, out var entry))
                throw SafeTensors.Error(name, $"tensor '{key}' is missing (the network is {network})");
            var shape = target.Shape;
            if (!entry.Shape.SequenceEqual(shape))
                throw SafeTensors.Error(name, $"tensor '{key}' has shape [{string.Join(", ", entry.Shape)}], but the network's layer needs [{string.Join(", ", shape)}]");
            if (entry.DType is not (SafeTensorDType.F32 or SafeTensorDType.F64))
                throw SafeTensors.Error(name, $"tensor '{key}' has dtype {entry.DType}; weights must be F32 or F64");
        }
        foreach (var entry in header.Tensors)
            if (!targets.ContainsKey(entry.Name) && !IsIgnored(targets, entry.Name))
                throw SafeTensors.Error(name, $"tensor '{entry.Name}' belongs to no layer of the network ({network})");

        foreach (var (key, target) in targets)
            ModelFile.ReadTensor<T>(stream, header, entries[key], target.Matrix.Rows, target.Matrix.Cols, name).Span.CopyTo(target.Matrix.Span);
        network.HostStateWritten();
    }

    // Every tensor of the network's state, by state-dict name, with the live matrix it goes into and PyTorch's shape.
    private static Dictionary<string, (Matrix<T> Matrix, long[] Shape)> Targets<T>(Network<T> network) where T : unmanaged, IFloatingPointIeee754<T> =>
        ModuleState.Entries(network.Layers).ToDictionary(e => e.Name, e => (e.Value, e.Shape.ToLongArray()));

    // PyTorch's batch-norm step counter has no ScratchNet counterpart: ignored beside a module's running estimates.
    private static bool IsIgnored<TTarget>(Dictionary<string, TTarget> targets, string key)
    {
        const string Counter = ".num_batches_tracked";
        return key.EndsWith(Counter, StringComparison.Ordinal) && targets.ContainsKey(key[..^Counter.Length] + ".running_mean");
    }
}
