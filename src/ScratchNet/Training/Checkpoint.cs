using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using ScratchNet.Layers;
using ScratchNet.Optimizers;
using ScratchNet.Persistence;

namespace ScratchNet.Training;

/// <summary>
/// Training checkpoints: one safetensors file holding the model exactly as <see cref="Network{T}.Save(string)"/>
/// writes it (same tensor names and <c>__metadata__</c> keys), plus the optimiser's state tensors
/// (<c>optimizer.{k}</c>), the early-stopping best weights (<c>best.{k}</c>), the epoch's shuffled training
/// rows (<c>trainer.order</c>, I32), and under the metadata key <c>checkpoint</c> a JSON object with the
/// epoch and batch to continue at, the shuffle and dropout generator states, the optimiser's type, rate and
/// step count, the history, the early-stopping and plateau state and the caller's config string. Written
/// atomically (temporary file, fsync, rename); see README, "Checkpoints".
/// </summary>
public static class Checkpoint
{
    /// <summary>Version of the <c>checkpoint</c> metadata layout.</summary>
    public const int FormatVersion = 1;

    /// <summary>The config string stored in a checkpoint (<see cref="TrainOptions.Config"/>), without loading anything else; null if none was given.</summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid checkpoint.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static string? ReadConfig(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = ReadHeader(file, path);
        return Parse(path, header, root => root["config"].Exists ? root["config"].String() : null);
    }

    internal sealed record Loaded<T>(TrainingState<T> State, string? Config) where T : unmanaged, IFloatingPointIeee754<T>;

    internal static void Write<T>(string path, Trainer<T> trainer, TrainingState<T> state, string? config) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = trainer.Network;
        network.SyncHost();   // a device's state, as it stands
        var (tensors, metadata) = ModelFile.Describe(network);   // as they stand: a deferred step is saved beside them
        var dtype = ModelFile.DTypeOf<T>();
        var pending = new List<(string Layer, T Rate, T Keep)>();
        foreach (var (layerPath, layer) in ModuleState.Modules(network.Layers))
        {
            if (layer.PendingStep is not { } step) continue;
            tensors.Add(($"pending.{layerPath}.input", dtype, Shape(step.Input), ModelFile.Bytes<T>(step.Input.Span, dtype)));
            tensors.Add(($"pending.{layerPath}.gradient", dtype, Shape(step.Gradient), ModelFile.Bytes<T>(step.Gradient.Span, dtype)));
            pending.Add((layerPath, step.Rate, step.Keep));
        }
        var stateful = LearningRates.StatefulOf(network.Optimizer);
        if (stateful is not null)
            for (int k = 0; k < stateful.State.Count; k++) tensors.Add(($"optimizer.{k}", dtype, Shape(stateful.State[k]), ModelFile.Bytes<T>(stateful.State[k].Span, dtype)));
        if (state.BestWeights is { } best)
            for (int k = 0; k < best.Count; k++) tensors.Add(($"best.{k}", dtype, Shape(best[k]), ModelFile.Bytes<T>(best[k].Span, dtype)));
        var order = new byte[state.Order.Length * 4];
        for (int i = 0; i < state.Order.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(order.AsSpan(4 * i), state.Order[i]);
        tensors.Add(("trainer.order", SafeTensorDType.I32, [state.Order.Length], order));

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", FormatVersion);
            w.WriteNumber("next_epoch", state.NextEpoch);
            w.WriteNumber("next_batch", state.NextBatch);
            w.WriteNumber("batch_size", state.BatchSize);
            w.WriteString("stop_reason", state.StopReason.ToString());
            w.WriteNumber("train_rows", trainer.TrainRows.Count);
            w.WriteNumber("validation_rows", trainer.ValidationRows.Count);
            WriteWords(w, "shuffle_rng", trainer.ShuffleGenerator.GetState());
            w.WriteStartArray("dropout_rngs");
            foreach (var generator in ModuleState.Generators(network.Layers)) WriteWords(w, null, generator.GetState());
            w.WriteEndArray();
            w.WriteStartObject("optimizer");
            w.WriteString("type", OptimizerName(network.Optimizer));
            w.WriteString("learning_rate", Text(LearningRates.Get(network.Optimizer)));
            w.WriteNumber("step_count", stateful?.StepCount ?? 0);
            w.WriteNumber("state_tensors", stateful?.State.Count ?? 0);
            w.WriteEndObject();
            w.WriteStartObject("early_stopping");
            w.WriteString("best", Text(state.EarlyBest));
            w.WriteNumber("best_epoch", state.EarlyBestEpoch);
            w.WriteNumber("bad_epochs", state.EarlyBadEpochs);
            w.WriteNumber("best_tensors", state.BestWeights?.Count ?? 0);
            w.WriteEndObject();
            if (state.Plateau is { } plateau)
            {
                w.WriteStartObject("plateau");
                w.WriteString("rate", Text(plateau.Rate));
                w.WriteString("best", Text(plateau.Best));
                w.WriteNumber("bad_epochs", plateau.BadEpochs);
                w.WriteNumber("cooldown_left", plateau.CooldownLeft);
                w.WriteEndObject();
            }
            // Numbers as round-trip strings: exact, and NaN and ±∞ survive (JSON numbers cannot hold them).
            w.WriteStartArray("history");
            foreach (var e in state.History)
            {
                w.WriteStartArray();
                w.WriteNumberValue(e.Epoch);
                foreach (double v in (double[])[e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.Seconds, e.TestLoss, e.TestAccuracy]) w.WriteStringValue(Text(v));
                w.WriteEndArray();
            }
            w.WriteEndArray();
            // Deferred SGD steps (a first linear layer at batch 1): tensors pending.{layer}.input/.gradient; the
            // layer is its path, a number for a top-level layer as format 1 has always written it.
            w.WriteStartArray("pending_steps");
            foreach (var (layer, rate, keep) in pending)
            {
                w.WriteStartObject();
                if (int.TryParse(layer, NumberStyles.None, CultureInfo.InvariantCulture, out int index)) w.WriteNumber("layer", index);
                else w.WriteString("layer", layer);
                w.WriteString("rate", Text(double.CreateChecked(rate)));
                w.WriteString("keep", Text(double.CreateChecked(keep)));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (config is not null) w.WriteString("config", config);
            w.WriteEndObject();
        }
        metadata["checkpoint"] = System.Text.Encoding.UTF8.GetString(json.ToArray());
        AtomicFile.Write(path, stream => SafeTensors.Write(stream, tensors, metadata));
    }

    /// <summary>Reads and checks the whole checkpoint against <paramref name="trainer"/>, then loads it into the trainer's network and generators.</summary>
    internal static Loaded<T> Read<T>(string path, Trainer<T> trainer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = trainer.Network;
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = ReadHeader(file, path);
        var entries = header.Tensors.ToDictionary(t => t.Name);
        var dtype = ModelFile.DTypeOf<T>();

        // The network: the same architecture and dtype as the trainer's.
        var expected = ModelFile.Metadata(network);
        foreach (string key in (string[])["dtype", "inputs", "outputs", "loss", "layers", "regularization_factor"])
        {
            if (!header.Metadata.TryGetValue(key, out var value)) throw Error(path, $"__metadata__ has no '{key}'");
            if (value != expected[key]) throw Error(path, $"it was written for a network with {key} = {value}, but this trainer's network has {expected[key]}");
        }
        var named = ModelFile.NamedTensors(network);
        var modelValues = new List<Matrix<T>>();
        foreach (var (name, _, shape) in named) modelValues.Add(ReadEntry<T>(file, header, entries, name, shape, dtype, path));

        var parsed = Parse(path, header, root => ParseState<T>(root, path, trainer));
        var stateful = LearningRates.StatefulOf(network.Optimizer);
        var optimizerState = new List<Matrix<T>>();
        for (int k = 0; k < parsed.OptimizerTensors; k++)
        {
            if (stateful is null) throw Error(path, "it holds optimiser state, but the trainer's optimiser keeps none");
            var parameter = network.Parameters[k / stateful.StatePerParameter];
            optimizerState.Add(ReadEntry<T>(file, header, entries, $"optimizer.{k}", [parameter.Gradient.Rows, parameter.Gradient.Cols], dtype, path));
        }
        var liveTensors = NetworkSnapshot<T>.Tensors(network);
        List<Matrix<T>>? best = null;
        if (parsed.BestTensors > 0)
        {
            if (parsed.BestTensors != liveTensors.Count) throw Error(path, $"it holds {parsed.BestTensors} best-weight tensors, the network has {liveTensors.Count}");
            best = [];
            for (int k = 0; k < parsed.BestTensors; k++)
                best.Add(ReadEntry<T>(file, header, entries, $"best.{k}", [liveTensors[k].Rows, liveTensors[k].Cols], dtype, path));
        }
        if (!entries.TryGetValue("trainer.order", out var orderEntry) || orderEntry.DType != SafeTensorDType.I32 || orderEntry.Shape.Length != 1 || orderEntry.Shape[0] != trainer.TrainRows.Count)
            throw Error(path, $"tensor 'trainer.order' must be I32 of shape [{trainer.TrainRows.Count}]");
        var modules = ModuleState.Modules(network.Layers).ToDictionary(m => m.Name, m => m.Value);
        var pendingSteps = new List<(Layer<T> Layer, DeferredStep<T> Step)>();
        foreach (var (layerPath, rate, keep) in parsed.PendingSteps)
        {
            if (!modules.TryGetValue(layerPath, out var layer) || layer.Parameters.Count == 0)
                throw Error(path, $"it holds a deferred step for layer {layerPath}, which is not a layer with weights");
            pendingSteps.Add((layer, new DeferredStep<T>(
                ReadEntry<T>(file, header, entries, $"pending.{layerPath}.input", [1, layer.InputSize], dtype, path),
                ReadEntry<T>(file, header, entries, $"pending.{layerPath}.gradient", [1, layer.OutputSize], dtype, path),
                T.CreateChecked(rate), T.CreateChecked(keep))));
        }
        var orderBytes = ReadBytes(file, header, orderEntry, path);
        var order = new int[trainer.TrainRows.Count];
        for (int i = 0; i < order.Length; i++) order[i] = BinaryPrimitives.ReadInt32LittleEndian(orderBytes.AsSpan(4 * i));
        if (!order.Order().SequenceEqual(trainer.TrainRows.Order()))
            throw Error(path, "its shuffled training rows are not this trainer's training rows (other data, split or seed?)");
        int known = named.Count + parsed.OptimizerTensors + parsed.BestTensors + 2 * pendingSteps.Count + 1;
        if (header.Tensors.Count != known)
            throw Error(path, $"it holds {header.Tensors.Count} tensors, {header.Tensors.Count - known} more than the network, optimiser and trainer account for");

        // Everything is read and checked: load it.
        for (int i = 0; i < named.Count; i++) modelValues[i].Span.CopyTo(named[i].Tensor.Span);
        foreach (var (layer, step) in pendingSteps)
        {
            try { layer.SetPendingStep(step); }
            catch (NotSupportedException e) { throw Error(path, $"it holds a deferred step for layer {layer}, {e.Message}"); }
        }
        if (stateful is not null)
        {
            if (optimizerState.Count > 0) stateful.LoadState(network.Parameters, optimizerState, parsed.StepCount);
            else if (stateful.State.Count > 0) { foreach (var s in stateful.State) s.Span.Clear(); stateful.StepCount = 0; }
        }
        LearningRates.Set(network.Optimizer, parsed.LearningRate);
        trainer.ShuffleGenerator.SetState(parsed.ShuffleRng);
        var generators = ModuleState.Generators(network.Layers);
        for (int i = 0; i < generators.Count; i++) generators[i].SetState(parsed.DropoutRngs[i]);
        network.HostStateWritten();
        var state = new TrainingState<T>
        {
            History = parsed.History,
            Order = order,
            NextEpoch = parsed.NextEpoch,
            NextBatch = parsed.NextBatch,
            BatchSize = parsed.BatchSize,
            StopReason = parsed.StopReason,
            EarlyBest = parsed.EarlyBest,
            EarlyBestEpoch = parsed.EarlyBestEpoch,
            EarlyBadEpochs = parsed.EarlyBadEpochs,
            BestWeights = best,
            Plateau = parsed.Plateau,
        };
        return new Loaded<T>(state, parsed.Config);
    }

    private sealed record Parsed(
        int NextEpoch, int NextBatch, int BatchSize, StopReason StopReason, ulong[] ShuffleRng, List<ulong[]> DropoutRngs,
        double LearningRate, long StepCount, int OptimizerTensors, double EarlyBest, int EarlyBestEpoch, int EarlyBadEpochs, int BestTensors,
        (double, double, int, int)? Plateau, List<EpochStats> History, List<(string Layer, double Rate, double Keep)> PendingSteps, string? Config);

    private static Parsed ParseState<T>(HeaderFields root, string path, Trainer<T> trainer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var network = trainer.Network;
        int version = root["format_version"].Int();
        if (version != FormatVersion) throw Error(path, $"its format version is {version}; this library reads version {FormatVersion}");
        int trainRows = root["train_rows"].Int(0), validationRows = root["validation_rows"].Int(0);
        if (trainRows != trainer.TrainRows.Count || validationRows != trainer.ValidationRows.Count)
            throw Error(path, $"it was trained on {trainRows} training and {validationRows} validation rows; this trainer has {trainer.TrainRows.Count} and {trainer.ValidationRows.Count}");
        int batchSize = root["batch_size"].Int(1);
        int nextEpoch = root["next_epoch"].Int(0), nextBatch = root["next_batch"].Int(0);
        if ((long)nextBatch * batchSize >= Math.Max(1, trainRows) && nextBatch > 0)
            throw Error(path, $"next_epoch {nextEpoch}, next_batch {nextBatch} and batch_size {batchSize} are not a position in a run");
        var stop = Enum.Parse<StopReason>(root["stop_reason"].String(Enum.GetNames<StopReason>()));

        var dropoutRngs = root["dropout_rngs"].Items().Select(Words).ToList();
        int dropouts = ModuleState.Generators(network.Layers).Count;
        if (dropoutRngs.Count != dropouts) throw Error(path, $"it holds {dropoutRngs.Count} dropout generator states, the network has {dropouts} dropout layers");

        var optimizer = root["optimizer"];
        string type = optimizer["type"].String();
        if (type != OptimizerName(network.Optimizer)) throw Error(path, $"it was written by a {type} optimiser; this network's optimiser is {OptimizerName(network.Optimizer)}");
        int stateTensors = optimizer["state_tensors"].Int(0);
        var stateful = LearningRates.StatefulOf(network.Optimizer);
        int expectedState = stateful is null ? 0 : network.Parameters.Count * stateful.StatePerParameter;
        if (stateTensors != 0 && stateTensors != expectedState) throw Error(path, $"it holds {stateTensors} optimiser state tensors, the optimiser needs {expectedState}");
        double rate = optimizer["learning_rate"].NumberText();
        if (!(rate > 0 && double.IsFinite(rate))) throw Error(path, $"its learning rate {rate} is not finite and > 0");
        long steps = optimizer["step_count"].Long(0);

        var early = root["early_stopping"];
        var p = root["plateau"];
        var plateau = p.Exists
            ? (p["rate"].NumberText(), p["best"].NumberText(), p["bad_epochs"].Int(0), p["cooldown_left"].Int(0))
            : ((double, double, int, int)?)null;
        var history = new List<EpochStats>();
        foreach (var row in root["history"].Items())
        {
            var f = row.Items(length: 8);
            history.Add(new EpochStats(f[0].Int(-1), f[1].NumberText(), f[2].NumberText(), f[3].NumberText(), f[4].NumberText(),
                f[5].NumberText(), f[6].NumberText(), f[7].NumberText()));
        }
        if (history.Count == 0 || history[0].Epoch != -1 || history.Count != nextEpoch + 1)
            throw Error(path, $"its history has {history.Count} rows; a checkpoint before epoch {nextEpoch} needs {nextEpoch + 1}, from epoch -1");
        var pending = root["pending_steps"].Items()
            .Select(e => (LayerPath(e["layer"]), e["rate"].NumberText(), e["keep"].NumberText())).ToList();
        string? config = root["config"].Exists ? root["config"].String() : null;
        return new Parsed(nextEpoch, nextBatch, batchSize, stop, Words(root["shuffle_rng"]), dropoutRngs, rate, steps, stateTensors,
            early["best"].NumberText(), early["best_epoch"].Int(), early["bad_epochs"].Int(0),
            early["best_tensors"].Int(0), plateau, history, pending, config);
    }

    private static SafeTensors.Header ReadHeader(FileStream file, string path)
    {
        try { return SafeTensors.ReadHeader(file, path); }
        catch (ModelFormatException e) { throw new CheckpointFormatException(e.Message.Replace("not a valid model file", "not a valid checkpoint"), e); }
        catch (EndOfStreamException e) { throw Error(path, "the file is cut short", e); }
    }

    // Runs a reader over the 'checkpoint' metadata JSON; its fields are read through HeaderFields, whose faults name the key.
    private static TResult Parse<TResult>(string path, SafeTensors.Header header, Func<HeaderFields, TResult> read)
    {
        if (!header.Metadata.TryGetValue("checkpoint", out var text)) throw Error(path, "__metadata__ has no 'checkpoint' entry (a model file, not a checkpoint?)");
        JsonDocument document;
        try { document = JsonDocument.Parse(text); }
        catch (JsonException e) { throw Error(path, $"the 'checkpoint' metadata is not valid JSON ({e.Message})", e); }
        using (document) return read(HeaderFields.Root(document.RootElement, "the 'checkpoint' metadata", what => Error(path, what)));
    }

    private static Matrix<T> ReadEntry<T>(FileStream file, SafeTensors.Header header, Dictionary<string, SafeTensorEntry> entries, string name, long[] shape,
        SafeTensorDType dtype, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!entries.TryGetValue(name, out var entry)) throw Error(path, $"tensor '{name}' is missing");
        if (entry.DType != dtype) throw Error(path, $"tensor '{name}' has dtype {entry.DType}; resuming a {(dtype == SafeTensorDType.F32 ? "float32" : "float64")} network needs {dtype}");
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (entry.Count != count || (entry.Shape.Length == shape.Length && !entry.Shape.SequenceEqual(shape)))
            throw Error(path, $"tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], but this network needs [{string.Join(", ", shape)}]");
        int rows = shape.Length == 2 ? (int)shape[0] : 1, cols = (int)(count / rows);
        try { return ModelFile.ReadTensor<T>(file, header, entry, rows, cols, path); }
        catch (ModelFormatException e) { throw Error(path, $"tensor '{name}' cannot be read ({e.Message})", e); }
    }

    private static byte[] ReadBytes(FileStream file, SafeTensors.Header header, SafeTensorEntry entry, string path)
    {
        var bytes = new byte[entry.End - entry.Begin];
        file.Position = header.DataStart + entry.Begin;
        try { file.ReadExactly(bytes); }
        catch (EndOfStreamException e) { throw Error(path, $"tensor '{entry.Name}' is cut short", e); }
        return bytes;
    }

    private static string OptimizerName<T>(IOptimizer<T> optimizer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string name = optimizer.GetType().Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return optimizer is ClippedOptimizer<T> clipped ? $"{name}({OptimizerName(clipped.Inner)})" : name;
    }

    private static long[] Shape<T>(Matrix<T> tensor) where T : unmanaged, IFloatingPointIeee754<T> => [tensor.Rows, tensor.Cols];

    private static void WriteWords(Utf8JsonWriter w, string? name, ulong[] words)
    {
        if (name is null) w.WriteStartArray(); else w.WriteStartArray(name);
        foreach (ulong word in words) w.WriteNumberValue(word);
        w.WriteEndArray();
    }

    private static ulong[] Words(HeaderFields array)
    {
        var words = array.ULongs(length: 4);
        if (words.All(x => x == 0)) throw array.Fault("four 64-bit words, not all zero", "all zero");
        return words;
    }

    private static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    // A deferred step's layer: a top-level index (format 1 as first written) or a module path such as "0.0".
    private static string LayerPath(HeaderFields layer) => layer.Element.ValueKind == JsonValueKind.Number
        ? layer.Int(0).ToString(CultureInfo.InvariantCulture)
        : layer.String();

    private static CheckpointFormatException Error(string path, string what, Exception? inner = null) => new($"{path}: not a valid checkpoint: {what}.", inner);
}
