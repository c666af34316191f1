namespace ScratchNet;

/// <summary>
/// A seeded random generator (xoshiro256** with a SplitMix64 seeder) whose whole state is four
/// 64-bit words, so that a run can be reproduced bit for bit from its seed and a checkpoint can
/// capture the generator exactly. <see cref="System.Random"/> offers neither guarantee.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator whose sequence is fixed by <paramref name="seed"/>.</summary>
    public Rng(ulong seed)
    {
        // SplitMix64 spreads any seed, 0 included, over the four state words.
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    /// <summary>The generator's complete state, for checkpoints.</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    /// <exception cref="ArgumentException">The state is not four words, or is all zero (not a state xoshiro can reach).</exception>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4 || (state[0] | state[1] | state[2] | state[3]) == 0)
            throw new ArgumentException("An Rng state is four 64-bit words, not all zero.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
    }

    /// <summary>The next 64 uniformly random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Advances the generator by <paramref name="count"/> draws of <see cref="NextUInt64"/>, as if they had been made.</summary>
    public void Skip(long count)
    {
        for (long i = 0; i < count; i++) NextUInt64();
    }

    /// <summary>A uniform double in [0, 1), with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="bound"/>), without modulo bias.</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        // Lemire's multiply-shift on a 32-bit draw, rejecting low products below 2³² mod bound (the biased range).
        uint threshold = unchecked(0u - (uint)bound) % (uint)bound;
        while (true)
        {
            ulong r = NextUInt64() >> 32;
            ulong product = r * (ulong)bound;
            if ((uint)product >= threshold) return (int)(product >> 32);
        }
    }

    /// <summary>A standard normal N(0, 1) sample (Marsaglia's polar method; no cached spare, so the state alone fixes the future).</summary>
    public double NextNormal()
    {
        while (true)
        {
            double u = 2 * NextDouble() - 1;
            double v = 2 * NextDouble() - 1;
            double s = u * u + v * v;
            if (s > 0 && s < 1) return u * Math.Sqrt(-2 * Math.Log(s) / s);
        }
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<TItem>(Span<TItem> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
