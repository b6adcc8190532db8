using Stage2Lab.Cli;

return CliApp.Run(args, Console.Out, Console.Error);
