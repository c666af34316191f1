using ScratchNet.Data;
using ScratchNet.Training;

namespace ScratchNet.Tests.Training;

/// <summary><see cref="DataSplit.Split"/>: sizes, disjoint cover of all rows, stratification and argument checks.</summary>
public class DataSplitTests
{
    [Theory]
    [InlineData(1000, 0.2, 200)]
    [InlineData(10_000, 0.2, 2000)]
    [InlineData(7, 0.2, 1)]     // 1.4 rounds down
    [InlineData(10, 0.25, 3)]   // 2.5 rounds away from zero
    [InlineData(10, 0.05, 1)]   // 0.5 rounds away from zero
    [InlineData(3, 0.5, 2)]     // 1.5 rounds away from zero
    public void ValidationSizeIsRoundedFraction(int n, double fraction, int expectedValidation)
    {
        var (train, validation) = DataSplit.Split(Unlabelled(n), fraction, stratify: false, new Rng(1));
        Assert.Equal(expectedValidation, validation.Length);
        Assert.Equal(n - expectedValidation, train.Length);
        AssertDisjointCover(n, train, validation);
    }

    [Fact]
    public void SplitIsShuffled()
    {
        var (train, validation) = DataSplit.Split(Unlabelled(100), 0.2, stratify: false, new Rng(2));
        Assert.NotEqual(Enumerable.Range(80, 20), validation);
        Assert.NotEqual(train.Order(), train);
    }

    [Fact]
    public void SameGeneratorStateGivesSameSplitOtherSeedDiffers()
    {
        var samples = Unlabelled(50);
        var a = DataSplit.Split(samples, 0.2, false, new Rng(3));
        var b = DataSplit.Split(samples, 0.2, false, new Rng(3));
        var c = DataSplit.Split(samples, 0.2, false, new Rng(4));
        Assert.Equal(a.Validation, b.Validation);
        Assert.Equal(a.Train, b.Train);
        Assert.NotEqual(a.Validation, c.Validation);
    }

    [Theory]
    [InlineData(new[] { 500, 300, 150, 50 }, 0.2)]
    [InlineData(new[] { 13, 7, 4, 21 }, 0.3)]
    [InlineData(new[] { 2, 9, 1, 5 }, 0.25)]
    public void StratifiedKeepsEachClassProportion(int[] classCounts, double fraction)
    {
        // Classes interleaved row by row, so that a split which ignored them could not keep their shares by luck.
        var labels = new List<int>();
        var remaining = (int[])classCounts.Clone();
        while (remaining.Any(r => r > 0))
            for (int c = 0; c < remaining.Length; c++)
                if (remaining[c]-- > 0) labels.Add(c);
        var samples = Labelled(labels, classCounts.Length);

        var (train, validation) = DataSplit.Split(samples, fraction, stratify: true, new Rng(5));

        AssertDisjointCover(labels.Count, train, validation);
        for (int c = 0; c < classCounts.Length; c++)
        {
            int inValidation = validation.Count(r => labels[r] == c);
            Assert.True(Math.Abs(inValidation - classCounts[c] * fraction) <= 1,
                $"Class {c}: {inValidation} of {classCounts[c]} in validation, expected {classCounts[c] * fraction} ± 1.");
            Assert.Equal(classCounts[c] - inValidation, train.Count(r => labels[r] == c));
        }
        // Class by class splitting must not leave the sets ordered by class.
        Assert.NotEqual(train.Select(r => labels[r]).Order(), train.Select(r => labels[r]));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.PositiveInfinity)]
    public void FractionOutsideOpenUnitIntervalThrows(double fraction)
    {
        foreach (bool stratify in new[] { false, true })
            Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.Split(Unlabelled(100), fraction, stratify, new Rng(0)));
    }

    [Theory]
    [InlineData(0, 0.2, false)]
    [InlineData(1, 0.2, false)]  // round(0.2) = 0 validation rows
    [InlineData(1, 0.6, false)]  // round(0.6) = 1, leaving no training rows
    [InlineData(2, 0.8, false)]  // round(1.6) = 2, leaving no training rows
    [InlineData(4, 0.1, true)]   // every class rounds to 0 validation rows
    public void EmptySideThrowsArgumentException(int n, double fraction, bool stratify)
    {
        var samples = Labelled(Enumerable.Range(0, n).Select(i => i % 2).ToList(), 2);
        var e = Assert.Throws<ArgumentException>(() => DataSplit.Split(samples, fraction, stratify, new Rng(0)));
        Assert.Contains($"{n} samples", e.Message);
    }

    private static void AssertDisjointCover(int n, int[] train, int[] validation)
    {
        Assert.Empty(train.Intersect(validation));
        Assert.Equal(Enumerable.Range(0, n), train.Concat(validation).Order());
    }

    // n samples of one feature and two all-zero targets.
    private static Dataset<float> Unlabelled(int n) => new("unlabelled", new Matrix<float>(n, 1), new Matrix<float>(n, 2));

    // One sample per label, with one-hot targets.
    private static Dataset<float> Labelled(List<int> labels, int classes) =>
        new("labelled", new Matrix<float>(labels.Count, 1), Dataset<float>.OneHot([.. labels], classes));
}
