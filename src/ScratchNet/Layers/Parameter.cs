using System.Numerics;

namespace ScratchNet.Layers;

/// <summary>
/// A trainable tensor and the gradient of the loss with respect to it, always the same shape.
/// Backward passes add into <see cref="Gradient"/>; the trainer zeroes it once per step.
/// </summary>
public sealed class Parameter<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Matrix<T> _value;

    /// <summary>A parameter shaped as its value: (rows, cols), or (cols) for a single row.</summary>
    internal Parameter(string name, Matrix<T> value, bool regularized)
        : this(name, value, value.Rows == 1 ? new Shape(value.Cols) : new Shape(value.Rows, value.Cols), regularized)
    {
    }

    internal Parameter(string name, Matrix<T> value, Shape shape, bool regularized)
    {
        if (shape.Size != value.Length)
            throw new ShapeMismatchException($"Parameter '{name}': a shape {shape} does not fit a ({value.Rows}, {value.Cols}) value.");
        Name = name;
        Shape = shape;
        _value = value;
        Gradient = new Matrix<T>(value.Rows, value.Cols);
        Regularized = regularized;
    }

    /// <summary>The name the layer's state saves it under, e.g. "weight" or "bias".</summary>
    public string Name { get; }

    /// <summary>The shape model files and PyTorch give it, e.g. (out, in) for a weight and (out) for a bias.</summary>
    public Shape Shape { get; }

    /// <summary>The parameter's current value. Reading it never changes it; writing through it changes the parameter.</summary>
    public Matrix<T> Value => _value;

    /// <summary>
    /// d loss / d <see cref="Value"/>, accumulated since the last <see cref="ZeroGradient"/>. Once the parameter's
    /// layer is in a <see cref="Network{T}"/>, a view into the network's one flat gradient buffer
    /// (<see cref="Network{T}.Gradients"/>).
    /// </summary>
    public Matrix<T> Gradient { get; private set; }

    /// <summary>Moves the gradient into <paramref name="buffer"/> from <paramref name="offset"/>, keeping its values.</summary>
    internal void BindGradient(T[] buffer, int offset)
    {
        var view = Matrix<T>.View(buffer, offset, Gradient.Rows, Gradient.Cols);
        Gradient.Span.CopyTo(view.Span);
        Gradient = view;
    }

    /// <summary>
    /// A per-parameter learning-rate multiplier (PyTorch's parameter groups): every optimiser steps this parameter
    /// with its rate × the scale; a schedule changes the optimiser's rate, and so all of them in proportion. 1 by default.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not finite and &gt; 0.</exception>
    public double LearningRateScale
    {
        get => _learningRateScale;
        set => _learningRateScale = value > 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A learning-rate scale must be finite and > 0.");
    }

    private double _learningRateScale = 1;
    private double? _weightDecay;

    /// <summary>
    /// This parameter's weight decay, replacing the optimiser's (for the optimisers that decay: SGD with momentum,
    /// AdamW); null, the default, takes the optimiser's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not finite and ≥ 0.</exception>
    public double? WeightDecay
    {
        get => _weightDecay;
        set => _weightDecay = value is null || (value >= 0 && double.IsFinite(value.Value)) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A weight decay must be finite and ≥ 0.");
    }

    /// <summary>
    /// Whether training leaves this parameter as it is, PyTorch's <c>requires_grad = False</c> on a parameter an
    /// optimiser holds: every optimiser skips it (no step, no weight decay, no momentum or moment update) and gradient
    /// clipping leaves its gradient out of the norm. <see cref="Network{T}.ComputeGradients"/> still computes its gradient; a
    /// training step does not run backward through the layers before the first that holds a parameter that is not frozen
    /// (their frozen parameters' gradients are then the penalty's alone), as autograd skips them. False by default; a trainer's
    /// <see cref="Training.Trainer{T}.EpochStarting"/> can set it for a part of a run (airbench trains its whitening bias
    /// for the first three epochs only). Adam's bias correction counts the optimiser's steps, not this parameter's, so a
    /// parameter unfrozen again resumes with the optimiser's correction (torch counts per parameter).
    /// </summary>
    public bool Frozen { get; set; }

    /// <summary>Whether the network's L2 penalty applies to this parameter.</summary>
    public bool Regularized { get; }

    /// <summary>Sets the gradient to zero.</summary>
    public void ZeroGradient() => Gradient.Span.Clear();
}
