using System.CommandLine;
using System.Runtime.InteropServices;
using ScratchNet.Compute;
using ScratchNet.Gpu;
using ScratchNet.Gpu.Diagnostics;
using ScratchNet.Mpi;

namespace ScratchNet.Cli.Commands;

/// <summary>
/// <c>scratchnet info [--check]</c>: the devices this machine offers (the CPU and its kernels, NVIDIA GPUs through
/// the driver) and the one <c>train --device auto</c> would use; <c>--check</c> runs every layer's device half and whole
/// trainings with every optimiser against the CPU on random inputs and prints the worst relative error.
/// </summary>
public static class InfoCommand
{
    /// <summary>Creates the command; it writes to <paramref name="output"/>.</summary>
    public static Command Create(TextWriter output)
    {
        var check = new Option<bool>("--check") { Description = "Run every layer's device half (within 1e-5) and short trainings with every optimiser (within 1e-4) against the CPU on the first CUDA device." };
        var command = new Command("info", "List the devices (CPU kernels, CUDA GPUs) and the one train --device auto uses.") { check };
        command.SetAction(parse =>
        {
            output.WriteLine($"cpu: {Environment.ProcessorCount} cores ({RuntimeInformation.ProcessArchitecture}), GEMM kernel {Gemm.Kernel}, " +
                             $"{Threading.ThreadCount} kernel threads; .NET {Environment.Version}");
            output.WriteLine(MpiLine());
            var gpus = GpuDevice.DescribeCudaDevices();
            if (gpus.Count == 0) output.WriteLine("cuda: no device (no NVIDIA driver, or it sees no GPU)");
            foreach (string gpu in gpus) output.WriteLine(gpu);

            GpuDevice? backend = null;
            try
            {
                if (gpus.Count > 0) backend = GpuDevice.CreateCuda();
                output.WriteLine($"train --device auto uses: {backend?.Name ?? "cpu"}");
            }
            catch (DeviceException e)
            {
                output.WriteLine($"train --device auto uses: cpu (the GPU is not usable: {e.Message})");
            }
            using (backend)
            {
                if (!parse.GetValue(check)) return 0;
                if (backend is null) throw new DeviceException("info --check needs a usable CUDA device; there is none.");
                var results = ParityCheck.Layers(backend).Concat(ParityCheck.Training(backend)).ToList();
                var worst = results.MaxBy(r => double.IsNaN(r.RelativeError) ? double.PositiveInfinity : r.RelativeError / r.Tolerance);
                foreach (var failure in results.Where(r => !r.Passed)) output.WriteLine($"FAILED {failure.Name}: relative error {failure.RelativeError:E2} (bound {failure.Tolerance:E0})");
                int failed = results.Count(r => !r.Passed);
                output.WriteLine($"parity: {results.Count - failed}/{results.Count} checks within bounds; worst {worst.Name}: {worst.RelativeError:E2}");
                return failed == 0 ? 0 : 1;
            }
        });
        return command;
    }

    // Under a launcher: the library and world size MPI itself reports. Otherwise MPI is not initialised: the libraries
    // that would load are named, and train runs in one process.
    private static string MpiLine()
    {
        var launch = MpiLaunch.Current;
        if (launch.Launched)
        {
            using var group = MpiProcessGroup.Initialize(launch);
            return $"mpi: launched, world size {group.Size} (rank {group.Rank}), {group.Library}: {group.Version}; train is data-parallel over the ranks";
        }
        var found = MpiProcessGroup.Available();
        return found.Count == 0
            ? "mpi: no MPI library found (libmpi.so.40 or libmpich.so.12; e.g. apt-get install openmpi-bin); train runs in one process"
            : $"mpi: found {string.Join("; ", found)}; not launched by mpirun or srun (world size 1), so train runs in one process";
    }
}
