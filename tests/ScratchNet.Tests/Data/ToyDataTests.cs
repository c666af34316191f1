using System.Numerics;
using ScratchNet.Data;

namespace ScratchNet.Tests.Data;

/// <summary>
/// <see cref="ToyData"/> against the course report's definitions (section 2.3) and the documented
/// deviation for the folded set. Statistical bounds are stated per test, at least 5 standard errors wide.
/// </summary>
public class ToyDataTests
{
    public static TheoryData<string> Generators => ["linear", "folded", "square", "patterns"];

    [Fact]
    public void LinearTargetsAreTheQuarterTurnExactly()
    {
        var data = ToyData.Linear<double>(5_000, seed: 3);
        Assert.Equal("linear", data.Name);
        Assert.Equal((5_000, 2), data.Features.Shape);
        Assert.Equal((5_000, 2), data.Targets.Shape);
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal(-data.Features[i, 1], data.Targets[i, 0]);
            Assert.Equal(data.Features[i, 0], data.Targets[i, 1]);
        }
    }

    [Fact]
    public void LinearInputsAreStandardNormal()
    {
        // 2 × 20k draws: standard error of the mean 0.007, of the variance 0.01.
        var x = ToyData.Linear<double>(20_000, seed: 4).Features;
        for (int j = 0; j < 2; j++)
        {
            var column = Enumerable.Range(0, x.Rows).Select(i => x[i, j]).ToArray();
            double mean = column.Average();
            Assert.Equal(0, mean, 0.04);
            Assert.Equal(1, column.Average(v => (v - mean) * (v - mean)), 0.06);
        }
    }

    [Fact]
    public void FloatDrawsTheSamePointsAsDouble()
    {
        var f = ToyData.Linear<float>(1_000, seed: 5);
        var d = ToyData.Linear<double>(1_000, seed: 5);
        Assert.Equal(d.Features.ToArray().Select(v => (float)v), f.Features.ToArray());
        Assert.Equal(d.Targets.ToArray().Select(v => (float)v), f.Targets.ToArray());
    }

    [Fact]
    public void FoldedTargetsFoldButInputsDoNot()
    {
        var data = ToyData.Folded<float>(5_000, seed: 6);
        Assert.Equal("folded", data.Name);
        int negative = 0;
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal(-MathF.Abs(data.Features[i, 1]), data.Targets[i, 0]);
            Assert.Equal(data.Features[i, 0], data.Targets[i, 1]);
            if (data.Features[i, 1] < 0) negative++;
        }
        // The report's Python folds its inputs too (x₂ ≥ 0 always); ToyData keeps them unfolded: about half negative (sd 0.7%).
        Assert.InRange(negative / (double)data.Count, 0.45, 0.55);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SquareIsOneHotInsidenessOfTheWindow(bool asFloat)
    {
        if (asFloat) Check<float>();
        else Check<double>();

        static void Check<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var data = ToyData.Square<T>(20_000, seed: 7);
            Assert.Equal("square", data.Name);
            int inside = 0;
            for (int i = 0; i < data.Count; i++)
            {
                double x1 = double.CreateChecked(data.Features[i, 0]), x2 = double.CreateChecked(data.Features[i, 1]);
                Assert.InRange(x1, 0, Math.BitDecrement(4.0));
                Assert.InRange(x2, 0, Math.BitDecrement(4.0));
                bool isInside = x1 > 2 && x1 < 3 && x2 > 1 && x2 < 2;
                Assert.Equal(isInside ? T.Zero : T.One, data.Targets[i, 0]);
                Assert.Equal(isInside ? T.One : T.Zero, data.Targets[i, 1]);
                if (isInside) inside++;
            }
            // The unit square covers 1/16 of [0, 4)²; standard error over 20k points is 0.0017.
            Assert.Equal(1.0 / 16, inside / (double)data.Count, 0.01);
        }
    }

    [Fact]
    public void PatternsAreTheTwoPatternsWithTheirClasses()
    {
        var data = ToyData.Patterns<float>(2_000, seed: 8);
        Assert.Equal("patterns", data.Name);
        Assert.Equal((2_000, 6), data.Features.Shape);
        Assert.Equal((2_000, 2), data.Targets.Shape);
        float[] alternating = [1, 0, 1, 0, 1, 0], block = [1, 1, 1, 0, 0, 0];
        int alternatingCount = 0;
        for (int i = 0; i < data.Count; i++)
        {
            float[] x = data.Features.Row(i).ToArray();
            float[] y = data.Targets.Row(i).ToArray();
            if (x.SequenceEqual(alternating))
            {
                Assert.Equal([0f, 1f], y);
                alternatingCount++;
            }
            else
            {
                Assert.Equal(block, x);
                Assert.Equal([1f, 0f], y);
            }
        }
        // Equal odds; standard error of the share over 2,000 samples is 0.011.
        Assert.InRange(alternatingCount / (double)data.Count, 0.44, 0.56);
    }

    [Fact]
    public void DefaultSizesFollowTheReport()
    {
        Assert.Equal(10_000, ToyData.Linear<float>().Count);
        Assert.Equal(10_000, ToyData.Folded<float>().Count);
        Assert.Equal(2_000, ToyData.Square<float>().Count);
        Assert.Equal(1_000, ToyData.Patterns<float>().Count);
    }

    [Theory]
    [MemberData(nameof(Generators))]
    public void SizeIsRespected(string name)
    {
        foreach (int size in new[] { 1, 2, 37 })
        {
            var data = Make(name, size, seed: 1);
            Assert.Equal(size, data.Count);
            Assert.Equal(size, data.Targets.Rows);
        }
    }

    [Theory]
    [MemberData(nameof(Generators))]
    public void NonPositiveSizeThrows(string name)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(name, 0, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(name, -5, seed: 1));
    }

    [Theory]
    [MemberData(nameof(Generators))]
    public void SameSeedIsIdenticalDifferentSeedDiffers(string name)
    {
        var a = Make(name, 200, seed: 11);
        var b = Make(name, 200, seed: 11);
        var c = Make(name, 200, seed: 12);
        Assert.Equal(a.Features.ToArray(), b.Features.ToArray());
        Assert.Equal(a.Targets.ToArray(), b.Targets.ToArray());
        Assert.NotEqual(a.Features.ToArray(), c.Features.ToArray());
    }

    private static Dataset<double> Make(string name, int size, ulong seed) => name switch
    {
        "linear" => ToyData.Linear<double>(size, seed),
        "folded" => ToyData.Folded<double>(size, seed),
        "square" => ToyData.Square<double>(size, seed),
        "patterns" => ToyData.Patterns<double>(size, seed),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
