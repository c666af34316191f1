using ScratchNet.Data;

namespace ScratchNet.Tests.Data;

/// <summary><see cref="Dataset{T}"/> as an <see cref="ISampleSource{T}"/>, and its one-hot helper.</summary>
public class DatasetTests
{
    private static Dataset<double> Sample() => new(
        "sample",
        Matrix<double>.From(new double[,] { { 0, 0.5 }, { 1, 1.5 }, { 2, 2.5 }, { 3, 3.5 } }),
        Dataset<double>.OneHot([2, 0, 1, 2], 3));

    [Fact]
    public void DescribesItsShape()
    {
        var data = Sample();
        Assert.Equal(4, data.Count);
        Assert.Equal(2, data.FeatureCount);
        Assert.Equal(3, data.TargetCount);
        Assert.Equal("sample", data.Name);
    }

    [Fact]
    public void GatherCopiesRowsInOrderAndResizes()
    {
        var data = Sample();
        var x = new Matrix<double>(10, 2);
        var y = new Matrix<double>(10, 3);
        data.Gather([3, 1, 3], x, y);
        Assert.Equal((3, 2), x.Shape);
        Assert.Equal([3, 3.5, 1, 1.5, 3, 3.5], x.ToArray());
        Assert.Equal([0.0, 0, 1, 1, 0, 0, 0, 0, 1], y.ToArray());
        data.Gather([], x, y);
        Assert.Equal((0, 2), x.Shape);
        Assert.Equal((0, 3), y.Shape);
    }

    [Fact]
    public void GatherIntoWrongWidthsThrows()
    {
        var data = Sample();
        Assert.Throws<ShapeMismatchException>(() => data.Gather([0], new Matrix<double>(0, 3), new Matrix<double>(0, 3)));
        Assert.Throws<ShapeMismatchException>(() => data.Gather([0], new Matrix<double>(0, 2), new Matrix<double>(0, 2)));
    }

    [Fact]
    public void ClassOfIsTheLargestTarget()
    {
        var data = Sample();
        Assert.Equal([2, 0, 1, 2], Enumerable.Range(0, 4).Select(data.ClassOf));
        var soft = new Dataset<float>("soft", new Matrix<float>(1, 1), new Matrix<float>(1, 3, [0.2f, 0.5f, 0.3f]));
        Assert.Equal(1, soft.ClassOf(0));
    }

    [Fact]
    public void RowCountsMustAgree()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => new Dataset<float>("bad", new Matrix<float>(3, 2), new Matrix<float>(4, 2)));
        Assert.Contains("bad", e.Message);
        Assert.Contains("3", e.Message);
        Assert.Contains("4", e.Message);
    }

    [Fact]
    public void OneHotRejectsLabelsOutsideTheClasses()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset<float>.OneHot([0, 3], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dataset<float>.OneHot([-1], 3));
    }
}
