using System.Security.Cryptography;

namespace ScratchNet.Data.Catalog;

/// <summary>A published checksum, written "md5:HEX" or "sha256:HEX" (lower-case hex).</summary>
public sealed record Checksum
{
    private Checksum(HashAlgorithmName algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary>MD5 or SHA256.</summary>
    public HashAlgorithmName Algorithm { get; }

    /// <summary>The digest in lower-case hex.</summary>
    public string Hex { get; }

    /// <summary>Parses "md5:HEX" or "sha256:HEX".</summary>
    /// <exception cref="FormatException">Another algorithm, or hex of the wrong length.</exception>
    public static Checksum Parse(string text)
    {
        int colon = text.IndexOf(':');
        string name = colon < 0 ? "" : text[..colon].ToLowerInvariant();
        string hex = text[(colon + 1)..].ToLowerInvariant();
        var (algorithm, digits) = name switch
        {
            "md5" => (HashAlgorithmName.MD5, 32),
            "sha256" => (HashAlgorithmName.SHA256, 64),
            _ => throw new FormatException($"Checksum '{text}': expected md5:HEX or sha256:HEX."),
        };
        if (hex.Length != digits || !hex.All(char.IsAsciiHexDigit))
            throw new FormatException($"Checksum '{text}': a {name} digest has {digits} hex digits.");
        return new Checksum(algorithm, hex);
    }

    /// <summary>A hasher of this checksum's algorithm, for data that arrives in pieces.</summary>
    public IncrementalHash CreateHasher() => IncrementalHash.CreateHash(Algorithm);

    /// <summary>This algorithm's digest of <paramref name="hasher"/>'s data, as "algorithm:hex".</summary>
    public string Format(IncrementalHash hasher) => $"{Prefix}:{Convert.ToHexStringLower(hasher.GetHashAndReset())}";

    /// <summary>This algorithm's digest of the file at <paramref name="path"/>, as "algorithm:hex".</summary>
    public string Compute(string path)
    {
        using var hasher = CreateHasher();
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var buffer = new byte[1 << 16];
        int read;
        while ((read = file.Read(buffer)) > 0) hasher.AppendData(buffer, 0, read);
        return Format(hasher);
    }

    /// <summary>Whether <paramref name="computed"/> ("algorithm:hex") is this checksum.</summary>
    public bool Matches(string computed) => computed == ToString();

    private string Prefix => Algorithm == HashAlgorithmName.MD5 ? "md5" : "sha256";

    /// <inheritdoc/>
    public override string ToString() => $"{Prefix}:{Hex}";
}
