// tbot-dotnet entry point; commands are added by the CLI issue.
Console.Error.WriteLine("tbot-dotnet: no commands yet.");
return 2;
