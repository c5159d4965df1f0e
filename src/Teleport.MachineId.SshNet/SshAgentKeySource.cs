using Renci.SshNet;
using Renci.SshNet.Security;
using Teleport.MachineId.Crypto;
using Teleport.MachineId.Outputs.SshMultiplexer;

namespace Teleport.MachineId.SshNet;

/// <summary>
/// SSH.NET key material held by an SSH agent (the ssh-multiplexer's <c>agent.sock</c>): every key the
/// agent lists becomes a public-key algorithm whose signatures the agent makes, so the private key
/// never enters this process. Certificates come first, as the agent lists them.
/// </summary>
internal sealed class SshAgentKeySource : IPrivateKeySource
{
    private readonly List<HostAlgorithm> _algorithms = [];

    public SshAgentKeySource(SshAgentClient agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        foreach (var identity in agent.ListIdentities())
        {
            var isRsa = identity.PublicKey.Algorithm == KeyAlgorithm.Rsa2048;
            if (identity.Certificate is not null)
            {
                // SSH.NET names RSA certificate algorithms after the signature (rsa-sha2-512-cert-v01@openssh.com).
                foreach (var signature in isRsa ? ["rsa-sha2-512", "rsa-sha2-256"] : new[] { (string?)null })
                {
                    var name = signature is null ? identity.Certificate.CertificateTypeName : signature + "-cert-v01@openssh.com";
                    _algorithms.Add(new AgentHostAlgorithm(name, agent, identity, signature));
                }
            }
            else
            {
                foreach (var name in isRsa ? ["rsa-sha2-512", "rsa-sha2-256"] : new[] { identity.PublicKey.SshKeyType })
                {
                    _algorithms.Add(new AgentHostAlgorithm(name, agent, identity, isRsa ? name : null));
                }
            }
        }
    }

    public IReadOnlyCollection<HostAlgorithm> HostKeyAlgorithms => _algorithms;

    /// <summary>A public-key algorithm whose signatures the agent makes.</summary>
    private sealed class AgentHostAlgorithm(string name, SshAgentClient agent, SshAgentIdentity identity, string? signatureAlgorithm) : HostAlgorithm(name)
    {
        public override byte[] Data => identity.Blob.ToArray();

        public override byte[] Sign(byte[] data) => agent.Sign(identity, data, signatureAlgorithm);

        public override bool VerifySignature(byte[] data, byte[] signature) =>
            throw new NotSupportedException("An agent-held key only signs.");
    }
}
