using System.Numerics;

namespace ScratchNet;

/// <summary>Helpers for tensors that a layer or loss owns and reuses from batch to batch.</summary>
internal static class Workspace
{
    /// <summary>Makes <paramref name="tensor"/> (rows, cols), reusing its storage when the column count already matches.</summary>
    public static void Fit<T>(ref Matrix<T> tensor, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (tensor.Cols != cols) tensor = new Matrix<T>(rows, cols);
        else tensor.SetRows(rows);
    }
}
