// A new user's first program against the packages from the local feed. Both namespaces are imported on
// purpose: System.Numerics.Tensors has Tensor<T>, and a ScratchNet type of a clashing name would make
// this file fail to build (CS0104).
#pragma warning disable SYSLIB5001 // System.Numerics.Tensors.Tensor<T> is marked experimental
using System.Numerics.Tensors;
using ScratchNet;
using ScratchNet.Data;
using ScratchNet.Losses;
using ScratchNet.Onnx;
using ScratchNet.Plots;
using ScratchNet.Training;

Tensor<float>? notOurs = null;                                   // System.Numerics.Tensors' type, unambiguous
var digits = Digits.Load<float>();
var net = new Network<float>(inputs: 64, outputs: 10, Loss.CrossEntropy, regularizationFactor: 1e-4, learningRate: 0.1);
net.AddLinear(64); net.AddRelu();
net.AddLinear(10); net.AddSoftmax();
var history = new Trainer<float>(net, digits).Train(epochs: 10, batchSize: 32);
Console.WriteLine(history);
float total = TensorPrimitives.Sum<float>(digits.Features.Span);
Console.WriteLine($"pixel sum {total}; tensor {(notOurs is null ? "none" : "some")}");
TrainingCurves.Save(history, "consumer", "curves.png", "curves.svg");
net.ExportOnnx("model.onnx");
using (var file = File.Create("model.safetensors")) net.Save(file);
using (var file = File.OpenRead("model.safetensors")) Console.WriteLine($"reloaded: {Network<float>.Load(file)}");
Console.WriteLine($"validation accuracy: {history.Final.ValidationAccuracy:F4}");
return history.Final.ValidationAccuracy >= 0.9 && File.Exists("curves.png") && new FileInfo("model.onnx").Length > 0 ? 0 : 1;
