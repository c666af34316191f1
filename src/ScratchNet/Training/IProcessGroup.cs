namespace ScratchNet.Training;

/// <summary>
/// The processes that train one network together (data parallelism), as the trainer needs them: each has a
/// <see cref="Rank"/> in [0, <see cref="Size"/>), and every method is a collective that all of them call in the
/// same order with buffers of the same length. The core library holds only this contract; ScratchNet.Mpi
/// implements it over an MPI library. Implementations fail loudly (an exception, or ending the job) rather than
/// let one process wait for a peer that died.
/// </summary>
public interface IProcessGroup
{
    /// <summary>This process's number, from 0; rank 0 writes the run's files.</summary>
    int Rank { get; }

    /// <summary>How many processes take part, ≥ 1.</summary>
    int Size { get; }

    /// <summary>Copies rank 0's <paramref name="buffer"/> into every other rank's (same length everywhere).</summary>
    void Broadcast<T>(Span<T> buffer) where T : unmanaged;

    /// <summary>
    /// Concatenates every rank's <paramref name="mine"/> in rank order into <paramref name="all"/>
    /// (<see cref="Size"/> × mine.Length elements) on every rank.
    /// </summary>
    void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all) where T : unmanaged;

    /// <summary>
    /// Replaces <paramref name="buffer"/> on every rank by the element-wise sum over ranks, in the order the
    /// implementation chooses (so not necessarily bit-identical to an ordered sum). <typeparamref name="T"/> is
    /// <c>float</c>, <c>double</c>, <c>int</c> or <c>long</c>.
    /// </summary>
    void AllReduceSum<T>(Span<T> buffer) where T : unmanaged;

    /// <summary>
    /// Starts <see cref="AllReduceSum{T}(Span{T})"/> on <paramref name="buffer"/> without waiting, so that the caller can
    /// compute while it travels; the buffer must not be touched until <see cref="IPendingReduction.Wait"/> returns.
    /// </summary>
    IPendingReduction StartAllReduceSum<T>(Memory<T> buffer) where T : unmanaged;

    /// <summary>
    /// Starts <see cref="AllGather{T}(ReadOnlySpan{T}, Span{T})"/> of <paramref name="mine"/> into <paramref name="all"/>
    /// without waiting; neither buffer may be touched until <see cref="IPendingReduction.Wait"/> returns.
    /// </summary>
    IPendingReduction StartAllGather<T>(Memory<T> mine, Memory<T> all) where T : unmanaged;
}

/// <summary>
/// A collective in flight (see <see cref="IProcessGroup.StartAllReduceSum{T}(Memory{T})"/> and
/// <see cref="IProcessGroup.StartAllGather{T}(Memory{T}, Memory{T})"/>).
/// </summary>
public interface IPendingReduction
{
    /// <summary>Blocks until the collective has completed on this rank; its buffer then holds the result. Call it once: the object may be reused after.</summary>
    void Wait();

    /// <summary>Lets the collective progress without waiting (MPI moves a non-blocking collective on only inside its calls); true once it has completed.</summary>
    bool Poll();
}

/// <summary>How data-parallel gradients are summed over ranks (see <see cref="TrainOptions.Reduce"/>).</summary>
public enum GradientReduction
{
    /// <summary>
    /// Every rank's gradient is gathered (in buckets, during the backward pass) and summed in rank order: N ranks give
    /// bit for bit the weights of one process that accumulates the same N micro-batches in order
    /// (<see cref="TrainOptions.Accumulate"/>). It sends N − 1 times what <see cref="Fast"/> sends and holds N copies of the gradients.
    /// </summary>
    Ordered,

    /// <summary>The MPI library's own all-reduce: less traffic and memory, summation order the library's (results within rounding).</summary>
    Fast,
}
