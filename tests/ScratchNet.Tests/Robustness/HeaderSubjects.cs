using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Optimizers;
using ScratchNet.Optimizers.Schedules;
using ScratchNet.Training;

namespace ScratchNet.Tests.Robustness;

/// <summary>
/// Small valid model files and checkpoints for the header tests and the header fuzzer: a network with every
/// layer kind whose header carries fields (linear, batch norm, dropout, leaky ReLU), and a checkpoint of it
/// written with Adam, a plateau schedule and early stopping, so that every optional block of its state is present.
/// </summary>
internal static class HeaderSubjects
{
    private static readonly Dataset<float> Data = ToyData.Linear<float>(points: 60, seed: 3);

    public static Network<float> Network()
    {
        var net = new Network<float>(2, 2, Loss.CrossEntropy, regularizationFactor: 1e-3, learningRate: 0.05, seed: 2);
        net.AddLinear(4, regularization: true);
        net.AddBatchNorm();
        net.Add(new ScratchNet.Layers.LeakyRelu<float>(net.CurrentWidth));
        net.AddDropout(0.25);
        net.AddLinear(2, regularization: true);
        net.AddSoftmax();
        net.Optimizer = new Adam<float>(1e-3);
        return net;
    }

    public static Trainer<float> Trainer() => new(Network(), Data.Features, Data.Targets, seed: 1);

    public static byte[] ModelFile(string folder)
    {
        string path = Path.Combine(folder, "model-subject.safetensors");
        Network().Save(path);
        return File.ReadAllBytes(path);
    }

    public static byte[] CheckpointFile(string folder)
    {
        string path = Path.Combine(folder, "checkpoint-subject.safetensors");
        Trainer().Train(new TrainOptions
        {
            Epochs = 2, BatchSize = 8, CheckpointPath = path, Config = "{}",
            Plateau = new ReduceOnPlateau(1e-3, factor: 0.5, patience: 1),
            EarlyStopping = new EarlyStopping(5),
        });
        return File.ReadAllBytes(path);
    }
}
