namespace ScratchNet.Data.Catalog;

/// <summary>Which of a dataset's official files to load.</summary>
public enum DatasetSplit
{
    /// <summary>The official training files; training splits them 80/20 into training and validation.</summary>
    Train,

    /// <summary>The official test files, for evaluation.</summary>
    Test,
}
