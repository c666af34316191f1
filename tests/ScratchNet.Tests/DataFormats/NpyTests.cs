using System.Text;
using ScratchNet.Data.Formats;

namespace ScratchNet.Tests.DataFormats;

public class NpyTests
{
    // The (2, 3) matrix [[1, 2, 3], [4, 5, 6]] and its elements in each storage order.
    private static readonly float[] RowMajor = [1, 2, 3, 4, 5, 6];
    private static readonly float[] ColumnMajor = [1, 4, 2, 5, 3, 6];

    private static NpyArray ReadBytes(byte[] bytes)
    {
        using var folder = new TempFolder();
        return Npy.Read(folder.Write("a.npy", bytes));
    }

    private static float[,] Matrix(NpyArray array)
    {
        var matrix = new float[array.Shape[0], array.Shape[1]];
        for (int r = 0; r < array.Shape[0]; r++)
            for (int c = 0; c < array.Shape[1]; c++)
                matrix[r, c] = array.At<float>(r, c);
        return matrix;
    }

    private static readonly float[,] Expected = { { 1, 2, 3 }, { 4, 5, 6 } };

    [Theory]
    [InlineData("<f4", false, false)]
    [InlineData(">f4", false, true)]
    [InlineData("<f4", true, false)]
    [InlineData(">f4", true, true)]
    public void ReadsFloat32InBothByteOrdersAndBothStorageOrders(string descr, bool fortran, bool bigEndian)
    {
        var array = ReadBytes(FormatBytes.Npy(descr, fortran, [2, 3], FormatBytes.Floats(fortran ? ColumnMajor : RowMajor, bigEndian)));

        Assert.Equal((NpyType.Float32, fortran), (array.Type, array.FortranOrder));
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal(Expected, Matrix(array));
    }

    [Theory]
    [InlineData("<f8", false)]
    [InlineData(">f8", true)]
    public void ReadsFloat64(string descr, bool bigEndian)
    {
        double[] values = [0.1, -2.5e300, double.Epsilon, 4, 5, 6];
        var array = ReadBytes(FormatBytes.Npy(descr, false, [2, 3], FormatBytes.Doubles(values, bigEndian)));

        Assert.Equal(NpyType.Float64, array.Type);
        Assert.Equal(values, Enumerable.Range(0, 6).Select(i => array.At<double>(i)));
    }

    [Fact]
    public void ReadsUInt8AndVersionTwoHeaders()
    {
        var array = ReadBytes(FormatBytes.Npy("|u1", false, [4], [0, 1, 128, 255], version: 2));

        Assert.Equal(NpyType.UInt8, array.Type);
        Assert.Equal([0.0, 1, 128, 255], Enumerable.Range(0, 4).Select(i => array.At<double>(i)));
    }

    [Fact]
    public void ReadsPython2LongSizesAndDoubleQuotes()
    {
        var array = ReadBytes(FormatBytes.Npy("", false, [], FormatBytes.Floats(RowMajor),
            header: "{\"descr\": \"<f4\", \"shape\": (2L, 3L), \"fortran_order\": False}"));

        Assert.Equal([2, 3], array.Shape);
    }

    [Fact]
    public void WritesWhatNumpyWrites()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "a.npy");

        Npy.Write(path, NpyArray.Of([2, 3], RowMajor));

        byte[] written = File.ReadAllBytes(path);
        Assert.Equal(FormatBytes.Npy("<f4", false, [2, 3], FormatBytes.Floats(RowMajor)), written);
        Assert.Equal(0, (written.Length - 24) % 64); // numpy aligns the data to 64 bytes
        Assert.Equal(Expected, Matrix(Npy.Read(path)));
    }

    [Fact]
    public void WriteThenReadRoundTripsEveryTypeAndOrder()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "a.npy");
        NpyArray[] arrays =
        [
            NpyArray.Of([3], [1.5, -2, 1e-300]),
            NpyArray.Of([2, 2], new byte[] { 0, 7, 200, 255 }),
            new(NpyType.Float32, [2, 3], FormatBytes.Floats(ColumnMajor), fortranOrder: true),
            NpyArray.Of([], [42f]),
        ];
        foreach (var array in arrays)
        {
            Npy.Write(path, array);
            var back = Npy.Read(path);
            Assert.Equal((array.Type, array.FortranOrder, array.Length), (back.Type, back.FortranOrder, back.Length));
            Assert.Equal(array.Shape, back.Shape);
            Assert.Equal(array.Data, back.Data);
        }
    }

    public static TheoryData<string, byte[], string> BadFiles()
    {
        byte[] Header(string header, byte[]? data = null) => FormatBytes.Npy("", false, [], data ?? FormatBytes.Floats(RowMajor), header: header);
        byte[] versionTwoHugeHeader = [0x93, .. "NUMPY"u8.ToArray(), 2, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        return new()
        {
            { "not npy", Encoding.ASCII.GetBytes("PK\x03\x04 this is a zip"), "offset 0: starts 504B03042074; an NPY file starts 934E554D5059" },
            { "version 9", [0x93, .. "NUMPY"u8.ToArray(), 9, 0, 0, 0], "offset 6: NPY version 9.0; expected 1.0, 2.0 or 3.0" },
            { "huge header length", versionTwoHugeHeader, "offset 8: the header length is 4294967295 bytes" },
            { "truncated header", FormatBytes.Npy("<f4", false, [2, 3], [])[..40], "offset 10: the header needs 118 bytes but only 30 remain" },
            { "not a dict", Header("['descr', '<f4']"), "offset 10: expected '{'" },
            { "missing key", Header("{'descr': '<f4', 'shape': (2, 3), }"), "the header has the keys descr, shape; expected exactly descr, fortran_order and shape" },
            { "extra key", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 'y'}"), "the header has the keys descr, fortran_order, shape, x; expected exactly" },
            { "repeated key", Header("{'descr': '<f4', 'descr': '<f4', 'shape': (2, 3)}"), "the header repeats the key 'descr'" },
            { "int64", Header("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"), "dtype '<i8' is not supported; expected uint8 ('|u1'), float32 ('<f4', '>f4') or float64 ('<f8', '>f8')" },
            { "structured", Header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }"), "expected a string, True, False or a tuple" },
            { "fortran_order a string", Header("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2, 3), }"), "the header's fortran_order is not True or False" },
            { "negative size", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "expected a non-negative integer in the shape" },
            { "size over int", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }"), "the shape's size 99999999999 exceeds 2147483647" },
            { "product overflows", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647), }"), "the shape (2147483647, 2147483647, 2147483647) holds more than" },
            { "shape lies: too big", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }"), "the header says shape (60000, 784) of <f4, 188160000 bytes of data, but 24 bytes follow the header" },
            { "shape lies: too small", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"), "the header says shape (2, 2) of <f4, 16 bytes of data, but 24 bytes follow" },
            { "dtype lies", Header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"), "the header says shape (2, 3) of <f8, 48 bytes of data, but 24 bytes follow" },
            { "text after dict", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk"), "unexpected text after the header dict" },
        };
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void MalformedFilesNameTheFileOffsetAndExpectation(string what, byte[] bytes, string expected)
    {
        Rejection.Assert("bad.npy", bytes, path => Npy.Read(path), what, expected);
    }
}
