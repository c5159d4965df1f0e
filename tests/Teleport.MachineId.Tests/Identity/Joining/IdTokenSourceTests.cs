using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Teleport.MachineId.Identity.Joining;
using Teleport.MachineId.Testing;
using Teleport.MachineId.Tests.Emulator;
using Teleport.MachineId.Tests.Infrastructure;

namespace Teleport.MachineId.Tests.Identity.Joining;

/// <summary>Where delegated methods find their ID tokens: the Actions runner endpoint, a GitLab variable, the Kubernetes token file.</summary>
public sealed class IdTokenSourceTests
{
    [Test]
    public async Task GitHub_source_asks_the_runner_for_the_teleport_audience_with_the_bearer_token()
    {
        await using var cluster = await EmulatorScenario.StartAsync(new TeleportEmulatorOptions { TimeProvider = new FakeTimeProvider(DateTimeOffset.UtcNow) });
        var job = cluster.OidcIssuer.CreateGitHubActionsJob(new EmulatorGitHubClaims { Repository = "acme/deploy" });
        var environment = new Dictionary<string, string>
        {
            [GitHubActionsIdTokenSource.RequestUrlVariable] = job.RequestUrl,
            [GitHubActionsIdTokenSource.RequestTokenVariable] = job.RequestToken,
        };

        var token = await new GitHubActionsIdTokenSource(environment.GetValueOrDefault).GetIdTokenAsync(default);

        var parsed = new JsonWebToken(token);
        Assert.That(parsed.Audiences, Is.EqualTo(new[] { "teleport.cluster.local" }));
        Assert.That(parsed.Issuer, Is.EqualTo(cluster.OidcIssuer.GitHubIssuerUrl));
        Assert.That(parsed.GetClaim("repository").Value, Is.EqualTo("acme/deploy"));
        Assert.That(job.RequestedAudiences, Is.EqualTo(new[] { "teleport.cluster.local" }));
    }

    [Test]
    public async Task GitHub_source_with_a_wrong_bearer_token_or_no_variables_explains_what_to_set()
    {
        await using var cluster = await EmulatorScenario.StartAsync();
        var job = cluster.OidcIssuer.CreateGitHubActionsJob();
        var wrong = new Dictionary<string, string>
        {
            [GitHubActionsIdTokenSource.RequestUrlVariable] = job.RequestUrl,
            [GitHubActionsIdTokenSource.RequestTokenVariable] = "not-the-request-token",
        };

        var refused = Assert.ThrowsAsync<TeleportJoinException>(() => new GitHubActionsIdTokenSource(wrong.GetValueOrDefault).GetIdTokenAsync(default));
        Assert.That(refused!.Message, Does.Contain("HTTP 401"));
        Assert.That(refused.Message, Does.Not.Contain("not-the-request-token"));
        var missing = Assert.ThrowsAsync<TeleportJoinException>(() => new GitHubActionsIdTokenSource(_ => null).GetIdTokenAsync(default));
        Assert.That(missing!.Message, Does.Contain("id-token: write"));
    }

    [Test]
    public void GitHub_source_refuses_a_runner_answer_that_is_not_utf8_json()
    {
        // The bug class fuzzing found in bot-storage: invalid UTF-8 inside a JSON string escaped
        // GetString() as InvalidOperationException.
        using var handler = new FixedAnswerHandler([.. "{\"value\":\""u8, 0xBE, .. "\"}"u8]);
        var environment = new Dictionary<string, string>
        {
            [GitHubActionsIdTokenSource.RequestUrlVariable] = "http://127.0.0.1:9/token",
            [GitHubActionsIdTokenSource.RequestTokenVariable] = "request-token",
        };

        var error = Assert.ThrowsAsync<TeleportJoinException>(() => new GitHubActionsIdTokenSource(environment.GetValueOrDefault, handler).GetIdTokenAsync(default));

        Assert.That(error!.Message, Does.Contain("something other than JSON"));
    }

    [Test]
    public async Task GitLab_source_reads_the_configured_variable_and_names_it_when_missing()
    {
        var environment = new Dictionary<string, string> { ["TBOT_GITLAB_JWT"] = " a.b.c \n", ["OTHER_JWT"] = "d.e.f" };

        Assert.That(await new GitLabIdTokenSource(environment.GetValueOrDefault, null).GetIdTokenAsync(default), Is.EqualTo("a.b.c"));
        Assert.That(await new GitLabIdTokenSource(environment.GetValueOrDefault, "OTHER_JWT").GetIdTokenAsync(default), Is.EqualTo("d.e.f"));
        var missing = Assert.ThrowsAsync<TeleportJoinException>(() => new GitLabIdTokenSource(_ => null, "MISSING_JWT").GetIdTokenAsync(default));
        Assert.That(missing!.Message, Does.Contain("MISSING_JWT"));
    }

    [Test]
    public async Task Kubernetes_source_prefers_the_configured_path_then_the_variable_then_the_default()
    {
        using var directory = new TempDirectory();
        var configured = Path.Combine(directory.Path, "configured");
        var fromVariable = Path.Combine(directory.Path, "variable");
        await File.WriteAllTextAsync(configured, "configured.token.value\n");
        await File.WriteAllTextAsync(fromVariable, "variable.token.value");
        var environment = new Dictionary<string, string> { [KubernetesTokenSource.PathVariable] = fromVariable };

        Assert.That(await new KubernetesTokenSource(environment.GetValueOrDefault, configured).GetIdTokenAsync(default), Is.EqualTo("configured.token.value"));
        Assert.That(await new KubernetesTokenSource(environment.GetValueOrDefault, null).GetIdTokenAsync(default), Is.EqualTo("variable.token.value"));
        Assert.That(new KubernetesTokenSource(_ => null, null).Path, Is.EqualTo("/var/run/secrets/kubernetes.io/serviceaccount/token"));
        var missing = Assert.ThrowsAsync<TeleportJoinException>(() => new KubernetesTokenSource(_ => null, Path.Combine(directory.Path, "absent")).GetIdTokenAsync(default));
        Assert.That(missing!.Message, Does.Contain("token_path"));
    }

    /// <summary>A runner whose answer is given bytes (the malformed reply cannot come from the emulator's issuer).</summary>
    private sealed class FixedAnswerHandler(byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new ByteArrayContent(body) });
    }
}
