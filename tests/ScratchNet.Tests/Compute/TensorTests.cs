namespace ScratchNet.Tests.Compute;

/// <summary><see cref="Matrix{T}"/>: shape checks, bounds, row access, gathering and its error messages.</summary>
public class TensorTests
{
    [Fact]
    public void ConstructorMakesZeroFilledTensorOfTheShape()
    {
        var t = new Matrix<float>(3, 4);
        Assert.Equal((3, 4), t.Shape);
        Assert.Equal(12, t.Length);
        Assert.All(t.ToArray(), v => Assert.Equal(0f, v));
        Assert.StartsWith("Matrix<float> (3, 4)\n[[0, 0, 0, 0]", t.ToString());
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(5, 0)]
    [InlineData(0, 0)]
    public void EmptyShapesAreAllowed(int rows, int cols)
    {
        var t = new Matrix<double>(rows, cols);
        Assert.Equal(0, t.Length);
        Assert.Equal(0, t.Span.Length);
    }

    [Theory]
    [InlineData(-1, 3)]
    [InlineData(3, -1)]
    public void NegativeDimensionThrows(int rows, int cols) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Matrix<float>(rows, cols));

    [Fact]
    public void TooManyElementsThrowsNamingTheShape()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Matrix<float>(int.MaxValue, 2));
        Assert.Contains($"({int.MaxValue}, 2)", e.Message);
    }

    [Fact]
    public void ValuesConstructorCopiesRowMajor()
    {
        float[] values = [1, 2, 3, 4, 5, 6];
        var t = new Matrix<float>(2, 3, values);
        values[0] = 99;
        Assert.Equal(1f, t[0, 0]);
        Assert.Equal(6f, t[1, 2]);
        Assert.Equal([4f, 5f, 6f], t.Row(1).ToArray());
    }

    [Fact]
    public void ValuesConstructorWithWrongCountNamesShapeAndCounts()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => new Matrix<double>(2, 3, new double[5]));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("6", e.Message);
        Assert.Contains("5", e.Message);
    }

    [Fact]
    public void FromRectangularArrayConverts()
    {
        var t = Matrix<double>.From(new int[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal((2, 3), t.Shape);
        Assert.Equal([1.0, 2, 3, 4, 5, 6], t.ToArray());
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(2, 0)]
    [InlineData(0, -1)]
    [InlineData(0, 3)]
    public void IndexerChecksBounds(int row, int col)
    {
        var t = new Matrix<float>(2, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => t[row, col]);
        Assert.Throws<ArgumentOutOfRangeException>(() => t[row, col] = 1f);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public void RowChecksBounds(int row) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Matrix<float>(2, 3).Row(row));

    [Fact]
    public void IndexerWritesTheElement()
    {
        var t = new Matrix<double>(2, 3);
        t[1, 2] = 7;
        t[0, 1] = -1;
        Assert.Equal([0.0, -1, 0, 0, 0, 7], t.ToArray());
    }

    [Fact]
    public void CloneIsDeep()
    {
        var t = new Matrix<float>(1, 2, [1f, 2f]);
        var copy = t.Clone();
        copy[0, 0] = 5f;
        Assert.Equal(1f, t[0, 0]);
        Assert.Equal((1, 2), copy.Shape);
    }

    [Fact]
    public void GatherRowsCopiesInTheGivenOrderWithRepeats()
    {
        var t = Matrix<float>.From(new float[,] { { 0, 1 }, { 10, 11 }, { 20, 21 } });
        var g = t.GatherRows([2, 0, 2]);
        Assert.Equal((3, 2), g.Shape);
        Assert.Equal([20f, 21, 0, 1, 20, 21], g.ToArray());
        g[0, 0] = -5;
        Assert.Equal(20f, t[2, 0]);
    }

    [Fact]
    public void GatherNoRowsGivesEmptyTensorOfSameWidth() =>
        Assert.Equal((0, 2), new Matrix<float>(3, 2).GatherRows([]).Shape);

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void GatherRowsOutOfRangeThrows(int index) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Matrix<float>(3, 2).GatherRows([0, index]));

    [Fact]
    public void ShapeMismatchMessagesContainBothShapesAndTheName()
    {
        var t = new Matrix<float>(4, 3);
        var cols = Assert.Throws<ShapeMismatchException>(() => t.RequireCols(5, "Input x"));
        Assert.Contains("Input x", cols.Message);
        Assert.Contains("5 columns", cols.Message);
        Assert.Contains("(4, 3)", cols.Message);
        var shape = Assert.Throws<ShapeMismatchException>(() => t.RequireShape(4, 2, "Target y"));
        Assert.Contains("Target y", shape.Message);
        Assert.Contains("(4, 2)", shape.Message);
        Assert.Contains("(4, 3)", shape.Message);
        t.RequireShape(4, 3, "fits");
        t.RequireCols(3, "fits");
    }

    [Fact]
    public void GatherIntoDifferentWidthNamesBothWidths()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => new Matrix<float>(3, 2).GatherRowsInto([0], new Matrix<float>(1, 5)));
        Assert.Contains("2 columns", e.Message);
        Assert.Contains("5 columns", e.Message);
    }
}
