namespace ScratchNet.Tests;

public class AllocationsTests
{
    // The helper behind the "allocates nothing" tests sees an allocation that every call makes.
    [Fact]
    public void AnAllocationInEveryCallShowsInTheLeastWindow()
    {
        byte[]? kept = null;
        Assert.True(Allocations.Least(() => kept = new byte[1000]) >= 1000);
        Assert.NotNull(kept);
        Assert.Equal(0, Allocations.Least(() => { }));
    }
}
