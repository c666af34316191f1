using System.Numerics;

namespace ScratchNet.Data;

/// <summary>
/// A sample source whose training batches differ from its evaluation batches (data augmentation): the trainer
/// gathers training batches through <see cref="GatherTraining"/> and everything else (statistics, validation,
/// test, prediction) through <see cref="ISampleSource{T}.Gather"/>.
/// </summary>
public interface ITrainingSamples<T> : ISampleSource<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// As <see cref="ISampleSource{T}.Gather"/>, for training in <paramref name="epoch"/> (from 0). The result must
    /// depend only on the source's seed, the epoch and the rows (not on earlier calls, the batch a row is in or the
    /// thread count), so that a run and its resumed copy see the same batches.
    /// </summary>
    void GatherTraining(ReadOnlySpan<int> rows, int epoch, Matrix<T> features, Matrix<T> targets);
}
