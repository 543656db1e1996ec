using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary><c>peft methods</c>: every PEFT method of the reading list, its paper, injection point and status.</summary>
public sealed class MethodsCommand : Command<MethodsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--available"), Description("Only the methods that can be used now")]
        public bool Available { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumn("method").AddColumn("status").AddColumn("injection point").AddColumn("paper");
        var methods = MethodCatalog.All.Where(m => !s.Available || m.Status == MethodStatus.Available).ToList();
        foreach (var m in methods)
        {
            string status = m.Status switch
            {
                MethodStatus.Available => "[green]available[/]",
                MethodStatus.Partial => "[yellow]partial[/]",
                _ => "planned",
            };
            table.AddRow(Markup.Escape(m.Name), status, Markup.Escape(MethodCatalog.InjectionPoints[m.InjectionPoint]),
                Markup.Escape($"{m.Paper} ({m.Venue})"));
        }
        AnsiConsole.Write(table);
        foreach (var (name, note) in MethodCatalog.Notes) AnsiConsole.MarkupLine($"{Markup.Escape(name)}: {Markup.Escape(note)}");
        int available = MethodCatalog.All.Count(m => m.Status == MethodStatus.Available);
        AnsiConsole.MarkupLine($"{available} of {MethodCatalog.All.Count} methods available");
        return 0;
    }
}
