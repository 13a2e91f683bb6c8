using DfbNet.Server;

if (args is [HealthProbe.Command, .. var probeArgs])
{
    return await HealthProbe.RunAsync(probeArgs);
}

try
{
    var app = ServerApplication.Build(args);
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (StartupError.Describe(ex) is { } message)
{
    // A configuration or model mistake is the operator's to fix: one line naming the setting or file, exit code 2.
    Console.Error.WriteLine($"dfbnet-server: {message}");
    return 2;
}
