return ScratchNet.Cli.CliApp.Run(args, Console.Out, Console.Error);
