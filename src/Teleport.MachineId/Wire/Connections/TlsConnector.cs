using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Teleport.MachineId.Wire.Connections;

/// <summary>
/// Opens TCP connections and runs TLS client handshakes with Teleport's rules: SNI and ALPN as the
/// endpoint requires, the current identity's certificate always presented, the server verified
/// against exactly the configured trust, and the negotiated ALPN checked.
/// </summary>
internal static class TlsConnector
{
    /// <summary>Opens a TCP connection (Nagle off).</summary>
    /// <param name="address">Where to connect.</param>
    /// <param name="peer">Who is there, for messages.</param>
    /// <param name="cancellationToken">Cancels the connect (includes the connect timeout).</param>
    /// <returns>The connected stream, owning the socket.</returns>
    /// <exception cref="TeleportConnectionException">The connection failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<NetworkStream> ConnectTcpAsync(HostPort address, string peer, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(address.ToEndPoint(), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new TeleportConnectionException(
                $"Could not connect to {peer} at {address}: {ex.Message}. Check the address and that the server is running and reachable.", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs a TLS client handshake over <paramref name="transport"/>; on failure the transport is
    /// disposed.
    /// </summary>
    /// <param name="transport">A connected stream (TCP, or a tunnel through the proxy).</param>
    /// <param name="target">SNI, ALPN and the peer's description.</param>
    /// <param name="identity">The client certificate to present, or <see langword="null"/> for none.</param>
    /// <param name="trust">How to verify the server certificate.</param>
    /// <param name="timeProvider">Clock for certificate validity checks.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels the handshake.</param>
    /// <returns>The authenticated stream.</returns>
    /// <exception cref="CertificateValidationException">The server certificate is not trusted, expired, or not valid for the server name.</exception>
    /// <exception cref="TeleportConnectionException">The handshake failed, or the server selected an unexpected ALPN protocol.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SslStream> AuthenticateAsync(
        Stream transport, TlsTarget target, WireIdentity? identity, ServerTrust trust, TimeProvider timeProvider, ILogger logger, CancellationToken cancellationToken)
    {
        var verifier = new PeerVerifier(target, trust, timeProvider);
        var ssl = new SslStream(transport, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = target.ServerName,
            ApplicationProtocols = [.. target.Protocols],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = verifier.Validate,
        };

        var chainTrust = trust.Mode == ServerTrustMode.UpgradedProxy ? trust.Inner! : trust;
        if (chainTrust.Mode == ServerTrustMode.CustomRoots)
        {
            // SslStream's own pre-check of the chain (before our callback) would otherwise load and
            // parse the whole OS trust store: ~50-100 ms of every ProxyCommand start. The callback
            // still decides (ValidateCustom).
            options.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(chainTrust.Roots!);
        }

        if (identity is not null)
        {
            // Always present the certificate, whatever CA names the server lists (teleport-protocol.md §2.0).
            var certificate = identity.ClientCertificate;
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            if (verifier.Failure is { } failure)
            {
                WireLog.ServerCertificateRejected(logger, target.Peer, failure.Message);
                throw failure.WithInner(ex);
            }

            if (WireErrors.FindTeleportException(ex) is { } tunnel)
            {
                // The transport under TLS (a tunnel through the proxy) failed: that is the cause.
                throw WireErrors.Rewrap(tunnel, $"Connecting to {target.Peer}: ");
            }

            if (DescribeProtocolRefusal(ex) is { } refusal && target.Protocols.Any(IsTeleportRouted))
            {
                var offered = string.Join(", ", target.Protocols.Select(p => $"'{p}'"));
                throw new TeleportConnectionException(
                    $"The TLS handshake with {target.Peer} failed: {refusal} for {offered}, so it is not the expected Teleport {KindHint(target)}. " +
                    "A load balancer that terminates TLS strips ALPN; such proxies are reached through the ALPN connection upgrade, detected unless " +
                    $"{WireProtocol.ConnectionUpgradeEnvironmentVariable} or --no-connection-upgrade turns it off.", ex);
            }

            throw new TeleportConnectionException(
                $"The TLS handshake with {target.Peer} failed: {ex.Message.TrimEnd('.')}. Check that the address points at a Teleport {KindHint(target)}.", ex);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (target.RequireNegotiatedProtocol && !target.Protocols.Contains(ssl.NegotiatedApplicationProtocol))
        {
            var got = ssl.NegotiatedApplicationProtocol == default ? "none" : $"'{ssl.NegotiatedApplicationProtocol}'";
            await ssl.DisposeAsync().ConfigureAwait(false);
            var offered = string.Join(", ", target.Protocols.Select(p => $"'{p}'"));
            WireLog.UnexpectedAlpn(logger, target.Peer, got);
            throw new TeleportConnectionException(
                $"{target.Peer} answered the TLS handshake with ALPN protocol {got} instead of one of {offered}, so it is not the expected " +
                $"Teleport {KindHint(target)}. Check the address (a load balancer that terminates TLS or strips ALPN breaks Teleport's TLS routing).");
        }

        WireLog.TlsConnected(logger, target.Peer, ssl.NegotiatedApplicationProtocol, ssl.SslProtocol, identity?.Tls.SerialNumber ?? "none");
        return ssl;
    }

    /// <summary>
    /// Whether a failed handshake is the server refusing the offered ALPN protocols: the TLS alert
    /// <c>no_application_protocol</c> (120), or a protocol the client did not offer (OpenSSL fails the
    /// handshake for that). Returns the reason, or <see langword="null"/>.
    /// </summary>
    internal static string? DescribeProtocolRefusal(Exception exception)
    {
        for (var e = (Exception?)exception; e is not null; e = e.InnerException)
        {
            var text = e.Message;
            if (text.Contains("no application protocol", StringComparison.OrdinalIgnoreCase) || text.Contains("reason(1120)", StringComparison.Ordinal))
            {
                return "the server refused the ALPN protocol (TLS alert no_application_protocol)";
            }

            if (text.Contains("unadvertised", StringComparison.OrdinalIgnoreCase) || text.Contains("bad extension", StringComparison.OrdinalIgnoreCase))
            {
                return "the server selected an ALPN protocol that was not offered";
            }
        }

        return null;
    }

    private static bool IsTeleportRouted(SslApplicationProtocol protocol) => protocol != WireProtocol.Http2 && protocol != WireProtocol.Http11;

    private static string KindHint(TlsTarget target) =>
        target.Protocols.Any(p => p.ToString().StartsWith(WireProtocol.AuthAlpnPrefix, StringComparison.Ordinal)) ? "proxy with TLS routing"
        : target.Protocols.Contains(WireProtocol.ProxySshGrpc) ? "proxy (SSH transport)"
        : target.Protocols.Contains(WireProtocol.ProxyGrpc) ? "proxy"
        : target.Protocols.Contains(WireProtocol.Http2) ? "Auth Service"
        : "proxy";

    /// <summary>Verifies one server certificate and remembers why it was refused.</summary>
    private sealed class PeerVerifier(TlsTarget target, ServerTrust trust, TimeProvider timeProvider)
    {
        public CertificateValidationFailureInfo? Failure { get; private set; }

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (trust.Mode == ServerTrustMode.Unverified)
            {
                return true;
            }

            if (certificate is null)
            {
                Failure = new(CertificateValidationFailure.UntrustedAuthority, $"{target.Peer} presented no certificate.");
                return false;
            }

            var leaf = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
            if (trust.Mode == ServerTrustMode.UpgradedProxy)
            {
                return Validate(trust.Inner!, leaf, chain, errors) || IsUnexpiredProxyHostCertificate(leaf);
            }

            return Validate(trust, leaf, chain, errors);
        }

        private bool Validate(ServerTrust with, X509Certificate2 leaf, X509Chain? chain, SslPolicyErrors errors) =>
            with.Mode == ServerTrustMode.CustomRoots ? ValidateCustom(with, leaf, chain) : ValidateSystem(with, leaf, chain, errors);

        /// <summary>Teleport's <c>verifyALPNUpgradedConn</c>: a certificate for <c>teleport.cluster.local</c> that has not expired.</summary>
        private bool IsUnexpiredProxyHostCertificate(X509Certificate2 leaf)
        {
            var names = leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames());
            if (!names.Contains(WireProtocol.ApiDomain, StringComparer.OrdinalIgnoreCase))
            {
                return false;
            }

            if (timeProvider.GetUtcNow() >= leaf.NotAfter.ToUniversalTime())
            {
                Failure = new(CertificateValidationFailure.Expired,
                    $"The host certificate of {target.Peer} (subject '{leaf.Subject}') expired at {leaf.NotAfter.ToUniversalTime():u}.");
                return false;
            }

            Failure = null;
            return true;
        }

        private bool ValidateCustom(ServerTrust with, X509Certificate2 leaf, X509Chain? presented)
        {
            var now = timeProvider.GetUtcNow();
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(with.Roots!);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationTime = now.LocalDateTime;
            chain.ChainPolicy.VerificationTimeIgnored = false;
            if (presented is not null)
            {
                chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            }

            if (!chain.Build(leaf))
            {
                Failure = Describe(with, leaf, chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (a, s) => a | s.Status), now);
                return false;
            }

            if (!leaf.MatchesHostname(target.ServerName))
            {
                Failure = NameMismatch(leaf);
                return false;
            }

            return true;
        }

        private bool ValidateSystem(ServerTrust with, X509Certificate2 leaf, X509Chain? chain, SslPolicyErrors errors)
        {
            if (errors == SslPolicyErrors.None)
            {
                return true;
            }

            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            {
                var flags = chain?.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (a, s) => a | s.Status) ?? X509ChainStatusFlags.UntrustedRoot;
                Failure = Describe(with, leaf, flags, timeProvider.GetUtcNow());
            }
            else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                Failure = NameMismatch(leaf);
            }
            else
            {
                Failure = new(CertificateValidationFailure.UntrustedAuthority, $"{target.Peer} presented no usable certificate ({errors}).");
            }

            return false;
        }

        private CertificateValidationFailureInfo NameMismatch(X509Certificate2 leaf) => new(
            CertificateValidationFailure.PrincipalNotAllowed,
            $"The certificate of {target.Peer} (subject '{leaf.Subject}', issuer '{leaf.Issuer}') is not valid for the name '{target.ServerName}'. " +
            "Check that the address points at the right Teleport cluster.");

        private CertificateValidationFailureInfo Describe(ServerTrust with, X509Certificate2 leaf, X509ChainStatusFlags flags, DateTimeOffset now)
        {
            var who = $"The certificate of {target.Peer} (subject '{leaf.Subject}', issuer '{leaf.Issuer}')";
            if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid))
            {
                return now < leaf.NotBefore.ToUniversalTime()
                    ? new(CertificateValidationFailure.NotYetValid, $"{who} is not valid before {leaf.NotBefore.ToUniversalTime():u}. Check this machine's clock.")
                    : new(CertificateValidationFailure.Expired, $"{who} expired at {leaf.NotAfter.ToUniversalTime():u}. Check this machine's clock and the server's certificate.");
            }

            if (flags.HasFlag(X509ChainStatusFlags.NotSignatureValid))
            {
                return new(CertificateValidationFailure.InvalidSignature, $"{who} has an invalid signature.");
            }

            var hint = with.Mode == ServerTrustMode.SystemStore
                ? " If the proxy uses a private CA, pass its CA bundle; 'insecure' skips verification only when explicitly set."
                : " If the cluster's certificate authorities were rotated, refresh the stored CA certificates; otherwise something other than the expected Teleport server answered.";
            return new(CertificateValidationFailure.UntrustedAuthority, $"{who} is not issued by a trusted authority: it was checked against {trust.Description} ({flags}).{hint}");
        }
    }

    /// <summary>A verification failure recorded during the handshake.</summary>
    private sealed record CertificateValidationFailureInfo(CertificateValidationFailure Failure, string Message)
    {
        public CertificateValidationException WithInner(Exception inner) => new(Failure, Message, inner);
    }
}
