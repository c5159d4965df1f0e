using Teleport.MachineId.Outputs;
using Teleport.MachineId.Outputs.SshMultiplexer;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Outputs;

/// <summary>A started <see cref="SshMultiplexerService"/> in a private directory, its ProxyCommand the built CLI.</summary>
internal sealed class MultiplexerFixture : IAsyncDisposable
{
    private readonly SshTestDirectory _parent;

    private MultiplexerFixture(SshTestDirectory parent, string directory, SshMultiplexerService service)
    {
        _parent = parent;
        Directory = directory;
        Service = service;
    }

    /// <summary>The multiplexer's directory (ssh_config, known_hosts, v1.sock, agent.sock).</summary>
    public string Directory { get; }

    public SshMultiplexerService Service { get; }

    public string SshConfig => Path.Combine(Directory, "ssh_config");

    public static async Task<MultiplexerFixture> StartAsync(
        NodeEnvironment env, TeleportSshCertificateSigner signer, Action<SshMultiplexerOptions>? configure = null, TimeProvider? timeProvider = null)
    {
        var parent = new SshTestDirectory("tmid-mux");
        var directory = Path.Combine(parent.Path, "mux");
        var options = new SshMultiplexerOptions { DestinationPath = directory };
        options.ProxyCommand.Add(NodeEnvironment.TbotDotnetPath);
        options.ProxyCommand.Add("ssh-multiplexer-proxy-command");
        configure?.Invoke(options);
        var service = SshMultiplexerService.Create(signer, options, timeProvider: timeProvider);
        try
        {
            await service.StartAsync();
            await service.WaitUntilReadyAsync().WaitAsync(TimeSpan.FromSeconds(60));
            return new MultiplexerFixture(parent, directory, service);
        }
        catch
        {
            await service.DisposeAsync();
            parent.Dispose();
            throw;
        }
    }

    /// <summary>No file in the directory (generations included) holds a private key.</summary>
    public static void AssertNoPrivateKeyIn(string directory)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            if (new FileInfo(file).LinkTarget is not null || IsSocket(file))
            {
                continue;
            }

            Assert.That(File.ReadAllText(file), Does.Not.Contain("PRIVATE KEY"), $"{file} holds a private key");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAsync();
        _parent.Dispose();
    }

    private static bool IsSocket(string path) =>
        path.EndsWith(".sock", StringComparison.Ordinal);
}
