namespace ScratchNet.Data.Catalog;

/// <summary>
/// The datasets ScratchNet knows by name, with their official URLs and published checksums
/// (Fashion-MNIST: its repository's README; MNIST: torchvision's mirrors of Yann LeCun's files;
/// CIFAR: Alex Krizhevsky's page).
/// </summary>
public static class DatasetCatalog
{
    private const string FashionMnist = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
    private const string FashionMnistGitHub = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/";
    private const string MnistS3 = "https://ossci-datasets.s3.amazonaws.com/mnist/";
    private const string MnistGoogle = "https://storage.googleapis.com/cvdf-datasets/mnist/";
    private const string Cifar = "https://www.cs.toronto.edu/~kriz/";

    private static readonly string[] IdxTrain = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"];
    private static readonly string[] IdxTest = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    /// <summary>Every dataset, in the order <c>scratchnet data list</c> shows them.</summary>
    public static IReadOnlyList<CatalogEntry> All { get; } =
    [
        Idx("fashion-mnist", "Fashion-MNIST (Zalando Research, MIT licence): 28×28 grey images of clothing, 10 classes", "FashionMNIST/raw",
            [FashionMnist, FashionMnistGitHub],
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe", "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
        Idx("mnist", "MNIST (Y. LeCun, C. Cortes, C. Burges): 28×28 grey handwritten digits, 10 classes", "MNIST/raw",
            [MnistS3, MnistGoogle],
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432", "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
        new()
        {
            Name = "cifar-10", Description = "CIFAR-10 (A. Krizhevsky): 32×32 colour images, 10 classes",
            Format = CatalogFormat.Cifar10, Features = 3 * 32 * 32, Classes = 10, TrainCount = 50_000, TestCount = 10_000,
            TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
            TestFiles = ["test_batch.bin"], ArchiveFolder = "cifar-10-batches-bin",
            Downloads = [new("cifar-10-binary.tar.gz", Checksum.Parse("md5:c32a1d4ab5d03f1284b67883e8d87530"), [Cifar + "cifar-10-binary.tar.gz"])],
        },
        new()
        {
            Name = "cifar-100", Description = "CIFAR-100 (A. Krizhevsky): 32×32 colour images, 100 fine classes in 20 coarse ones",
            Format = CatalogFormat.Cifar100, Features = 3 * 32 * 32, Classes = 100, TrainCount = 50_000, TestCount = 10_000,
            TrainFiles = ["train.bin"], TestFiles = ["test.bin"], ArchiveFolder = "cifar-100-binary",
            Downloads = [new("cifar-100-binary.tar.gz", Checksum.Parse("md5:03b5dce01913d631647c71ecec9e9cb8"), [Cifar + "cifar-100-binary.tar.gz"])],
        },
    ];

    /// <summary>The dataset called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static CatalogEntry? Find(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    // A 28×28, 10-class IDX dataset of 60,000 + 10,000 images; md5 lists the four files' checksums in
    // the order train images, train labels, test images, test labels.
    private static CatalogEntry Idx(string name, string description, string torchvisionFolder, string[] baseUrls, params string[] md5) => new()
    {
        Name = name, Description = description,
        Format = CatalogFormat.Idx, Features = 28 * 28, Classes = 10, TrainCount = 60_000, TestCount = 10_000,
        TrainFiles = IdxTrain, TestFiles = IdxTest, OtherFolders = [torchvisionFolder],
        Downloads = [.. IdxTrain.Concat(IdxTest).Select((file, i) => new RemoteFile(file, Checksum.Parse("md5:" + md5[i]), [.. baseUrls.Select(b => b + file)]))],
    };
}
