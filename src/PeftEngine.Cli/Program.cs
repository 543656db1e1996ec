using PeftEngine;

Console.WriteLine("peft: the command-line tool is not built yet");
