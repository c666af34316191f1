using System.Numerics;
using System.Numerics.Tensors;

namespace ScratchNet.Losses;

/// <summary>L = (1/B) Σ_b Σ_j (o_bj − y_bj)²; dL/do = 2(o − y)/B.</summary>
public sealed class L2Loss<T> : LossFunction<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T>? _prediction;          // (B, k): the input, kept for Prediction
    private Matrix<T> _difference = new(0, 0); // (B, k): o − y
    private Matrix<T> _gradient = new(0, 0);   // (B, k)

    /// <inheritdoc/>
    public override Matrix<T> Prediction => _prediction ?? throw new InvalidOperationException("L2 loss: no forward pass yet.");

    /// <inheritdoc/>
    protected override double ForwardCore(Matrix<T> input, Matrix<T> target)
    {
        _prediction = input;
        Workspace.Fit(ref _difference, input.Rows, input.Cols);
        TensorPrimitives.Subtract(input.Span, target.Span, _difference.Span);
        return double.CreateChecked(TensorPrimitives.SumOfSquares<T>(_difference.Span)) / input.Rows;
    }

    /// <inheritdoc/>
    public override Matrix<T> Backward()
    {
        var prediction = Prediction;
        Workspace.Fit(ref _gradient, prediction.Rows, prediction.Cols);
        TensorPrimitives.Multiply(_difference.Span, T.CreateChecked(2.0 / prediction.Rows), _gradient.Span);
        return _gradient;
    }
}
