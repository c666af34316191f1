using Microsoft.DotNet.Interactive;

namespace ScratchNet.Interactive;

/// <summary>
/// Loaded by .NET Interactive from the package's <c>interactive-extensions/dotnet</c> folder when a notebook references
/// ScratchNet.Interactive (<c>#r "nuget: ScratchNet.Interactive"</c>): registers <see cref="ScratchNetFormatters"/>.
/// </summary>
public sealed class ScratchNetKernelExtension : IKernelExtension
{
    /// <inheritdoc/>
    public Task OnLoadAsync(Kernel kernel)
    {
        ScratchNetFormatters.Register();
        return Task.CompletedTask;
    }
}
