using System.Collections;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using Teleport.MachineId.Crypto;

namespace Teleport.MachineId.Ssh;

/// <summary>
/// Builds and signs OpenSSH user and host certificates (PROTOCOL.certkeys) with a CA
/// <see cref="PrivateKey"/> of any supported type.
/// </summary>
/// <remarks>
/// <para>
/// Set the properties (object and collection initialisers work), then call <see cref="Sign"/>;
/// a builder can sign many certificates. Critical options and extensions are written in lexical
/// order by name, as OpenSSH requires; an empty value encodes a flag (empty data), any other
/// value is encoded as a string inside the data string. Not safe for concurrent modification;
/// concurrent <see cref="Sign"/> calls on an unchanging builder are fine.
/// </para>
/// <example>
/// <code>
/// var certificate = new SshCertificateBuilder
/// {
///     PublicKey = userKey.PublicKey,
///     Type = SshCertificateType.User,
///     KeyId = "bot-example",
///     Principals = { "root" },
///     ValidAfter = now.AddMinutes(-1),
///     ValidBefore = now.AddHours(1),
///     Extensions = { ["permit-pty"] = "" },
/// }.Sign(userCa);
/// </code>
/// </example>
/// </remarks>
public sealed class SshCertificateBuilder
{
    private static readonly CodePointComparer NameOrder = new();

    /// <summary>The key to certify (required).</summary>
    public PublicKeyInfo? PublicKey { get; set; }

    /// <summary>User (default) or host certificate.</summary>
    public SshCertificateType Type { get; set; } = SshCertificateType.User;

    /// <summary>The key ID (Teleport: the user name). Default empty.</summary>
    public string KeyId { get; set; } = string.Empty;

    /// <summary>The serial number. Default 0 (what Teleport uses).</summary>
    public ulong Serial { get; set; }

    /// <summary>The principals (logins for user certificates, host names for host certificates), in order.</summary>
    public IList<string> Principals { get; } = new PrincipalList();

    /// <summary>
    /// Start of validity, truncated to whole seconds. Default <see cref="DateTimeOffset.UnixEpoch"/>;
    /// that or anything earlier encodes 0 ("always").
    /// </summary>
    public DateTimeOffset ValidAfter { get; set; } = DateTimeOffset.UnixEpoch;

    /// <summary>
    /// End of validity (exclusive), truncated to whole seconds. Default
    /// <see cref="DateTimeOffset.MaxValue"/>, which encodes OpenSSH's "forever".
    /// </summary>
    public DateTimeOffset ValidBefore { get; set; } = DateTimeOffset.MaxValue;

    /// <summary>Critical options by name (e.g. <c>source-address</c>, <c>force-command</c>); empty value = flag.</summary>
    public IDictionary<string, string> CriticalOptions { get; } = new OptionMap();

    /// <summary>Extensions by name (e.g. <c>permit-pty</c>, <c>teleport-roles</c>); empty value = flag.</summary>
    public IDictionary<string, string> Extensions { get; } = new OptionMap();

    /// <summary>The nonce; <see langword="null"/> (default) draws 32 random bytes per signature. Set it only for reproducible tests.</summary>
    public byte[]? Nonce { get; set; }

    /// <summary>
    /// The signature algorithm, or <see langword="null"/> (default) for the CA key's natural one:
    /// <c>rsa-sha2-512</c> for RSA (as Teleport signs), the key type otherwise. RSA CAs also
    /// accept <c>rsa-sha2-256</c> and legacy <c>ssh-rsa</c> (SHA-1; only for interoperability tests).
    /// </summary>
    public string? SignatureAlgorithm { get; set; }

    /// <summary>Adds the extensions <c>ssh-keygen</c> gives a user certificate by default (all <c>permit-*</c> flags).</summary>
    /// <returns>This builder.</returns>
    public SshCertificateBuilder AddDefaultUserExtensions()
    {
        Extensions[TeleportSshCertificateInfo.PermitX11ForwardingExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitAgentForwardingExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitPortForwardingExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitPtyExtension] = string.Empty;
        Extensions[TeleportSshCertificateInfo.PermitUserRcExtension] = string.Empty;
        return this;
    }

    /// <summary>Encodes the certificate and signs it with <paramref name="certificateAuthority"/>.</summary>
    /// <param name="certificateAuthority">The CA key.</param>
    /// <returns>The signed certificate.</returns>
    /// <exception cref="InvalidOperationException">
    /// <see cref="PublicKey"/> is not set, the validity period is empty, an option name is empty,
    /// <see cref="Type"/> is undefined, or <see cref="SignatureAlgorithm"/> does not fit the CA key.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The CA key was disposed.</exception>
    public SshCertificate Sign(PrivateKey certificateAuthority)
    {
        ArgumentNullException.ThrowIfNull(certificateAuthority);
        var subject = PublicKey ?? throw new InvalidOperationException("Set PublicKey before signing a certificate.");
        if (Type is not (SshCertificateType.User or SshCertificateType.Host))
        {
            throw new InvalidOperationException("Type must be User or Host.");
        }

        var algorithm = SignatureAlgorithm ?? SshSignature.DefaultAlgorithm(certificateAuthority.Algorithm);
        if (!SshSignature.IsCompatible(certificateAuthority.Algorithm, algorithm))
        {
            throw new InvalidOperationException(
                $"Signature algorithm '{algorithm}' cannot be used with a {certificateAuthority.Algorithm} CA key.");
        }

        var validAfter = SshCertificate.ToUnixSeconds(ValidAfter);
        var validBefore = SshCertificate.ToUnixSeconds(ValidBefore);
        if (validAfter >= validBefore)
        {
            throw new InvalidOperationException("ValidBefore must be later than ValidAfter (in whole seconds).");
        }

        var writer = new SshWireWriter(1024 + (certificateAuthority.PublicKey.KeySizeInBits / 4));
        try
        {
            writer.WriteString(KeyAlgorithmInfo.CertificateType(subject.Algorithm));
            if (Nonce is { } nonce)
            {
                writer.WriteString(nonce);
            }
            else
            {
                writer.WriteUInt32(32);
                NonceSource.Fill(writer.GetSpan(32)[..32]);
                writer.Advance(32);
            }

            writer.WriteRaw(subject.KeyFieldsSpan);
            writer.WriteUInt64(Serial);
            writer.WriteUInt32((uint)Type);
            writer.WriteString(KeyId ?? string.Empty);
            // Principals, options and extensions keep their encoding until they change, so a
            // builder reused for many certificates does not re-encode them.
            writer.WriteString(((PrincipalList)Principals).GetEncoded());
            writer.WriteUInt64(validAfter);
            writer.WriteUInt64(validBefore);
            writer.WriteString(((OptionMap)CriticalOptions).GetEncoded());
            writer.WriteString(((OptionMap)Extensions).GetEncoded());
            writer.WriteString(ReadOnlySpan<byte>.Empty); // reserved
            writer.WriteString(certificateAuthority.PublicKey.WireSpan);

            var signedLength = writer.Length;
            var signature = writer.BeginNested();
            SshSignature.Write(certificateAuthority, algorithm, writer.WrittenSpan[..signedLength], ref writer);
            writer.EndNested(signature);
            return SshCertificate.FromOwnedWire(writer.ToArray());
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>The principal list; remembers its wire encoding until it changes.</summary>
    private sealed class PrincipalList : Collection<string>
    {
        private byte[]? _encoded;

        public byte[] GetEncoded()
        {
            var encoded = _encoded;
            if (encoded is not null)
            {
                return encoded;
            }

            using var writer = new SshWireWriter(256);
            foreach (var principal in Items)
            {
                writer.WriteString(principal ?? string.Empty);
            }

            return _encoded = writer.ToArray();
        }

        protected override void InsertItem(int index, string item)
        {
            _encoded = null;
            base.InsertItem(index, item);
        }

        protected override void SetItem(int index, string item)
        {
            _encoded = null;
            base.SetItem(index, item);
        }

        protected override void RemoveItem(int index)
        {
            _encoded = null;
            base.RemoveItem(index);
        }

        protected override void ClearItems()
        {
            _encoded = null;
            base.ClearItems();
        }
    }

    /// <summary>
    /// Options or extensions in lexical (code point) order; remembers the wire encoding of the
    /// list (name, then empty data for a flag or a string inside the data) until it changes.
    /// </summary>
    private sealed class OptionMap : IDictionary<string, string>
    {
        private readonly SortedDictionary<string, string> _items = new(NameOrder);
        private byte[]? _encoded;

        public ICollection<string> Keys => _items.Keys;

        public ICollection<string> Values => _items.Values;

        public int Count => _items.Count;

        public bool IsReadOnly => false;

        public string this[string key]
        {
            get => _items[key];
            set
            {
                _encoded = null;
                _items[key] = value;
            }
        }

        public byte[] GetEncoded()
        {
            var encoded = _encoded;
            if (encoded is not null)
            {
                return encoded;
            }

            using var writer = new SshWireWriter(512);
            foreach (var (name, value) in _items)
            {
                if (string.IsNullOrEmpty(name))
                {
                    throw new InvalidOperationException("Certificate option and extension names must not be empty.");
                }

                writer.WriteString(name);
                if (string.IsNullOrEmpty(value))
                {
                    writer.WriteUInt32(0);
                }
                else
                {
                    var data = writer.BeginNested();
                    writer.WriteString(value);
                    writer.EndNested(data);
                }
            }

            return _encoded = writer.ToArray();
        }

        public void Add(string key, string value)
        {
            _encoded = null;
            _items.Add(key, value);
        }

        public void Add(KeyValuePair<string, string> item) => Add(item.Key, item.Value);

        public bool Remove(string key)
        {
            _encoded = null;
            return _items.Remove(key);
        }

        public bool Remove(KeyValuePair<string, string> item)
        {
            _encoded = null;
            return ((ICollection<KeyValuePair<string, string>>)_items).Remove(item);
        }

        public void Clear()
        {
            _encoded = null;
            _items.Clear();
        }

        public bool ContainsKey(string key) => _items.ContainsKey(key);

        public bool Contains(KeyValuePair<string, string> item) => ((ICollection<KeyValuePair<string, string>>)_items).Contains(item);

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value) => _items.TryGetValue(key, out value);

        public void CopyTo(KeyValuePair<string, string>[] array, int arrayIndex) => _items.CopyTo(array, arrayIndex);

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _items.GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
    }

    /// <summary>Orders names by Unicode code point, which is the byte order of their UTF-8 encoding.</summary>
    private sealed class CodePointComparer : IComparer<string>
    {
        public int Compare(string? x, string? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : -1) : 1;
            }

            var left = x.EnumerateRunes();
            var right = y.EnumerateRunes();
            while (true)
            {
                var hasLeft = left.MoveNext();
                var hasRight = right.MoveNext();
                if (!hasLeft || !hasRight)
                {
                    return hasLeft ? 1 : hasRight ? -1 : 0;
                }

                var order = left.Current.Value.CompareTo(right.Current.Value);
                if (order != 0)
                {
                    return order;
                }
            }
        }
    }
}
