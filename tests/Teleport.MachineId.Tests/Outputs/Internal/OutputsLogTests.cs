using Teleport.MachineId.Outputs.Internal;
using Teleport.MachineId.Tests.Identity;

namespace Teleport.MachineId.Tests.Outputs.Internal;

/// <summary>
/// The outputs' log lines render their role, login and principal lists bracketed once. The logging
/// source generator writes a list as <c>[a, b]</c> in a message of more than six arguments and as
/// <c>a, b</c> otherwise, so which templates bracket their lists depends on it (the daemon printed
/// <c>roles [[access]] logins [[root]]</c> after every renewal).
/// </summary>
public sealed class OutputsLogTests
{
    private static readonly DateTimeOffset NotAfter = new(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);
    private static readonly string[] TwoRoles = ["access", "editor"];
    private static readonly string[] TwoLogins = ["root", "ubuntu"];
    private static readonly string[] OneRole = ["access"];
    private static readonly string[] OneLogin = ["root"];
    private static readonly string[] Principals = ["node1", "node1.example.com"];

    [Test]
    public void Role_login_and_principal_lists_are_bracketed_once()
    {
        using var capture = new CapturingLoggerProvider();
        var logger = capture.CreateLogger("outputs");

        OutputsLog.Written(logger, "out", 12, "directory /var/lib/out", "bot-robot", TwoRoles, TwoLogins, NotAfter);
        OutputsLog.RolesResolved(logger, "bot-robot", OneRole);
        OutputsLog.MultiplexerRenewed(logger, "fleet", "bot-robot", OneRole, OneLogin, NotAfter);
        OutputsLog.SshHostOutputWritten(logger, "host", Principals, "directory /etc/ssh/teleport", NotAfter);

        var messages = capture.Entries.Select(e => e.Text).ToList();
        Assert.That(messages[0], Does.Contain("for bot-robot roles [access, editor] logins [root, ubuntu], valid until"));
        Assert.That(messages[1], Does.Contain("No roles configured: bot-robot may impersonate [access]"));
        Assert.That(messages[2], Does.Contain("in-memory credentials for bot-robot roles [access] logins [root], valid until"));
        Assert.That(messages[3], Does.Contain("wrote a host certificate for [node1, node1.example.com] to directory /etc/ssh/teleport"));
        Assert.That(messages, Has.None.Contains("[["));
    }
}
