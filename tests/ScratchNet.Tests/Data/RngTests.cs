using System.Numerics;

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

    [Theory]
    [InlineData(3)]       // 2⁶⁴ mod 3 = 2³² mod 3
    [InlineData(1_024)]   // a power of two: nothing to reject
    [InlineData(7)]
    [InlineData(1_000)]
    [InlineData(12_345)]
    [InlineData(1_500_000_001)]
    [InlineData(int.MaxValue)]
    public void NextIntRejectsExactlyTheLowProductsBelowTwoToThe32ModBound(int bound)
    {
        // Lemire's multiply-shift on a 32-bit draw r is unbiased only if it rejects exactly the draws whose low
        // product (r·bound mod 2³²) is below 2³² mod bound. The generator is set so that its next output is
        // r·2³² for an r with a chosen low product l; one draw consumed means r was accepted.
        uint threshold = (uint)((1UL << 32) % (ulong)bound);
        foreach (uint low in new[] { threshold - 1, threshold, threshold + 1 })
        {
            // Skip l = −1 (threshold 0), and l that no r reaches: r·bound has at least bound's factors of 2.
            if (low == uint.MaxValue || BitOperations.TrailingZeroCount(low) < BitOperations.TrailingZeroCount(bound)) continue;
            uint r = SolveLowProduct((uint)bound, low);
            Assert.Equal(low, unchecked(r * (uint)bound));

            var rng = new Rng(0);
            rng.SetState(StateWithNextOutput((ulong)r << 32));
            var afterOneDraw = new Rng(0);
            afterOneDraw.SetState(StateWithNextOutput((ulong)r << 32));
            afterOneDraw.NextUInt64();

            int value = rng.NextInt(bound);
            bool accepted = rng.GetState().SequenceEqual(afterOneDraw.GetState());
            Assert.True(accepted == (low >= threshold),
                $"bound {bound}: low product {low} was {(accepted ? "accepted" : "rejected")}, but 2^32 mod bound is {threshold}.");
            if (accepted) Assert.Equal((int)(((ulong)r * (ulong)bound) >> 32), value);
        }
    }

    // An r with r·bound ≡ low (mod 2³²), given that low has at least bound's factors of 2.
    private static uint SolveLowProduct(uint bound, uint low)
    {
        int shift = BitOperations.TrailingZeroCount(bound);
        uint odd = bound >> shift;
        uint inverse = odd;
        for (int i = 0; i < 5; i++) inverse = unchecked(inverse * (2 - odd * inverse));
        return unchecked((low >> shift) * inverse);
    }

    // A xoshiro256** state whose next output is `output`: output = rotl(s1·5, 7)·9, so s1 = rotr(output·9⁻¹, 7)·5⁻¹.
    private static ulong[] StateWithNextOutput(ulong output)
    {
        ulong s1 = unchecked(ulong.RotateRight(output * Inverse(9), 7) * Inverse(5));
        return [0x1234_5678_9ABC_DEF0UL, s1, 0x0FED_CBA9_8765_4321UL, 42];

        static ulong Inverse(ulong odd)
        {
            ulong inverse = odd;
            for (int i = 0; i < 6; i++) inverse = unchecked(inverse * (2 - odd * inverse));
            return inverse;
        }
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
