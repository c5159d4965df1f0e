using System.Diagnostics;
using Teleport.MachineId.Ssh;
using Teleport.MachineId.Tests.Infrastructure;
using Teleport.MachineId.Tests.Outputs;

namespace Teleport.MachineId.Tests.EndToEnd;

/// <summary>Renewals of the multiplexer's in-memory credentials never drop an open SSH session; new connections use the new certificate.</summary>
[Category("EndToEnd")]
public sealed class SshMultiplexerRenewalTests
{
    [Test]
    public async Task A_session_open_across_three_renewals_keeps_working_and_new_connections_use_each_new_certificate()
    {
        await using var env = await NodeEnvironment.StartAsync();
        await using var signer = env.CreateSigner();
        await using var mux = await MultiplexerFixture.StartAsync(env, signer);
        var certificates = new List<SshCertificate> { mux.Service.Current!.SshCertificate };

        using var session = StartInteractiveSsh(env, mux);
        Assert.That(await EchoAsync(session, "before"), Is.EqualTo("echo:before"), "the session works");

        for (var renewal = 1; renewal <= 3; renewal++)
        {
            if (renewal == 1)
            {
                // The bot renews its own identity; the multiplexer follows on its own.
                var previous = mux.Service.Current;
                await env.Bot.RenewNowAsync();
                await WaitForAsync(() => !ReferenceEquals(mux.Service.Current, previous));
            }
            else
            {
                await mux.Service.RenewNowAsync();
            }

            var current = mux.Service.Current!.SshCertificate;
            Assert.That(certificates, Has.None.EqualTo(current), $"renewal {renewal} issued a new certificate");
            certificates.Add(current);

            Assert.That(await EchoAsync(session, "after-" + renewal), Is.EqualTo("echo:after-" + renewal), $"the open session survives renewal {renewal}");
            var fresh = await env.SshAsync(mux.Directory, env.Login, env.NodeHost, "echo fresh");
            Assert.That(fresh.ExitCode, Is.Zero, $"a new connection after renewal {renewal}: {fresh}");
        }

        await session.StandardInput.DisposeAsync();
        await session.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(session.ExitCode, Is.Zero, await session.StandardError.ReadToEndAsync());
        foreach (var certificate in certificates.Skip(1))
        {
            Assert.That(await env.Sshd.LogOnceItContainsAsync(certificate.PublicKey.Sha256Fingerprint), Does.Contain(certificate.PublicKey.Sha256Fingerprint), "each new certificate logged in once");
        }
    }

    private static Process StartInteractiveSsh(NodeEnvironment env, MultiplexerFixture mux)
    {
        var info = new ProcessStartInfo(OpenSshTools.Ssh)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "-F", mux.SshConfig, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
            $"{env.Login}@{env.NodeHost}", "while read line; do echo \"echo:$line\"; done",
        })
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info)!;
    }

    private static async Task<string?> EchoAsync(Process session, string line)
    {
        await session.StandardInput.WriteLineAsync(line);
        await session.StandardInput.FlushAsync();
        return await session.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
