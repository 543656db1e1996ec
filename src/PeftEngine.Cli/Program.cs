using PeftEngine;
using PeftEngine.Cli;

return CommandLine.Run(args);
