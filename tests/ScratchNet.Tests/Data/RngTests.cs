namespace ScratchNet.Tests.Data;

/// <summary>
/// <see cref="Rng"/>: known answers for its two published algorithms, reproducibility, state round trips,
/// and loose statistical checks (bounds stated per test, all at least 5 standard errors wide; the seeds are
/// fixed, so the outcome is deterministic).
/// </summary>
public class RngTests
{
    [Fact]
    public void SeedingIsSplitMix64()
    {
        // The first four SplitMix64 outputs from state 0 (Vigna's splitmix64.c).
        Assert.Equal([0xE220A8397B1DCDAFUL, 0x6E789E6AA1B965F4UL, 0x06C45D188009454FUL, 0xF88BB8A8724C81ECUL], new Rng(0).GetState());
    }

    [Fact]
    public void GeneratorIsXoshiro256StarStar()
    {
        // Vigna's xoshiro256** reference from the state {1, 2, 3, 4}.
        var rng = new Rng(0);
        rng.SetState([1, 2, 3, 4]);
        Assert.Equal([11520UL, 0UL, 1509978240UL, 1215971899390074240UL], Enumerable.Range(0, 4).Select(_ => rng.NextUInt64()));
    }

    [Fact]
    public void SameSeedGivesSameSequence()
    {
        var a = new Rng(12345);
        var b = new Rng(12345);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(a.NextUInt64(), b.NextUInt64());
            Assert.Equal(a.NextNormal(), b.NextNormal());
            Assert.Equal(a.NextInt(97), b.NextInt(97));
        }
    }

    [Theory]
    [InlineData(0UL, 1UL)]
    [InlineData(1UL, 2UL)]
    [InlineData(12345UL, 12346UL)]
    public void DifferentSeedsDiffer(ulong seed1, ulong seed2)
    {
        var a = new Rng(seed1);
        var b = new Rng(seed2);
        int same = Enumerable.Range(0, 100).Count(_ => a.NextUInt64() == b.NextUInt64());
        Assert.Equal(0, same);
    }

    [Fact]
    public void SetStateResumesExactly()
    {
        var rng = new Rng(99);
        for (int i = 0; i < 10; i++) rng.NextNormal();
        ulong[] state = rng.GetState();
        var expected = Draw(rng);

        var resumed = new Rng(1);
        resumed.SetState(state);
        Assert.Equal(expected, Draw(resumed));

        static double[] Draw(Rng r) => [.. Enumerable.Range(0, 300).Select(i => (i % 3) switch { 0 => r.NextDouble(), 1 => r.NextNormal(), _ => r.NextInt(1000) })];
    }

    [Fact]
    public void GetStateReturnsACopy()
    {
        var rng = new Rng(5);
        ulong[] state = rng.GetState();
        ulong[] original = (ulong[])state.Clone();
        state[0] ^= 1;
        Assert.Equal(original, rng.GetState());
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void SetStateRejectsWrongLength(int length) =>
        Assert.Throws<ArgumentException>(() => new Rng(0).SetState(new ulong[length]));

    [Fact]
    public void SetStateRejectsAllZero() =>
        Assert.Throws<ArgumentException>(() => new Rng(0).SetState([0, 0, 0, 0]));

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void NextIntRejectsNonPositiveBound(int bound) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rng(0).NextInt(bound));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void NextIntStaysInRange(int bound)
    {
        var rng = new Rng((ulong)bound);
        for (int i = 0; i < 10_000; i++) Assert.InRange(rng.NextInt(bound), 0, bound - 1);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(10)]
    [InlineData(17)]
    public void NextIntIsRoughlyUniform(int bound)
    {
        // Pearson χ² over 100k draws has mean bound − 1 and standard deviation √(2(bound − 1)); allow mean + 8 sd.
        const int Draws = 100_000;
        var rng = new Rng(2024);
        var counts = new int[bound];
        for (int i = 0; i < Draws; i++) counts[rng.NextInt(bound)]++;
        double expected = (double)Draws / bound;
        double chiSquare = counts.Sum(c => (c - expected) * (c - expected) / expected);
        double limit = bound - 1 + 8 * Math.Sqrt(2 * (bound - 1));
        Assert.True(chiSquare < limit, $"χ² = {chiSquare:F1} ≥ {limit:F1}; counts {string.Join(", ", counts)}");
    }

    [Fact]
    public void NextDoubleIsInUnitIntervalWithMeanHalf()
    {
        var rng = new Rng(8);
        double sum = 0;
        for (int i = 0; i < 100_000; i++)
        {
            double u = rng.NextDouble();
            Assert.InRange(u, 0.0, Math.BitDecrement(1.0));
            sum += u;
        }
        // Standard error of the mean: √(1/12)/√100k ≈ 0.0009.
        Assert.Equal(0.5, sum / 100_000, 0.005);
    }

    [Fact]
    public void NextNormalHasMeanZeroVarianceOne()
    {
        const int Draws = 100_000;
        var rng = new Rng(31);
        double sum = 0, sumSquares = 0;
        int withinOneSigma = 0;
        for (int i = 0; i < Draws; i++)
        {
            double z = rng.NextNormal();
            sum += z;
            sumSquares += z * z;
            if (Math.Abs(z) < 1) withinOneSigma++;
        }
        double mean = sum / Draws;
        double variance = sumSquares / Draws - mean * mean;
        // Standard errors: mean 0.0032, variance 0.0045, P(|z| < 1) 0.0015.
        Assert.Equal(0, mean, 0.02);
        Assert.Equal(1, variance, 0.03);
        Assert.Equal(0.6827, (double)withinOneSigma / Draws, 0.01);
    }

    [Fact]
    public void ShuffleIsAPermutation()
    {
        var rng = new Rng(4);
        int[] items = [.. Enumerable.Range(0, 100)];
        rng.Shuffle<int>(items);
        Assert.Equal(Enumerable.Range(0, 100), items.Order());
        Assert.NotEqual(Enumerable.Range(0, 100), items);

        rng.Shuffle<int>([]);
        int[] single = [7];
        rng.Shuffle<int>(single);
        Assert.Equal([7], single);
    }

    [Fact]
    public void ShuffleDrawsEveryOrderOfThreeEvenly()
    {
        // Fisher–Yates gives each of the 3! orders probability 1/6; an off-by-one (Sattolo's cycle) gives only 2 orders.
        // χ² with 5 degrees of freedom: mean 5, sd 3.2; allow 5 + 8 sd ≈ 30.
        const int Trials = 60_000;
        var rng = new Rng(6);
        var counts = new Dictionary<string, int>();
        for (int t = 0; t < Trials; t++)
        {
            char[] items = ['a', 'b', 'c'];
            rng.Shuffle<char>(items);
            string key = new(items);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, counts.Count);
        double expected = Trials / 6.0;
        double chiSquare = counts.Values.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.True(chiSquare < 30, $"χ² = {chiSquare:F1}; counts {string.Join(", ", counts)}");
    }
}
