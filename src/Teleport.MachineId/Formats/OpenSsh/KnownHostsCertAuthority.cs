using System.Text;

namespace Teleport.MachineId.OpenSsh;

/// <summary>
/// One <c>@cert-authority</c> line of an OpenSSH <c>known_hosts</c> file (also used in <c>tsh -i</c>
/// identity files): host certificates signed by <see cref="PublicKey"/> are trusted for hosts
/// matching <see cref="HostPatterns"/>. Teleport writes
/// <c>@cert-authority &lt;cluster&gt;,*.&lt;cluster&gt; &lt;keytype&gt; &lt;base64&gt; type=host</c>.
/// </summary>
/// <remarks>Immutable. The key is checked structurally (base64, type, complete fields), not interpreted.</remarks>
public sealed class KnownHostsCertAuthority
{
    /// <summary>The marker that starts the line.</summary>
    public const string Marker = "@cert-authority";

    /// <summary>The trailing field Teleport writes for host CAs.</summary>
    public const string HostCaComment = "type=host";

    /// <summary>Creates an entry.</summary>
    /// <param name="hostPatterns">Host patterns (names, wildcards such as <c>*.example.com</c>, negations, <c>[host]:port</c>).</param>
    /// <param name="publicKey">The CA public key, <c>&lt;keytype&gt; &lt;base64&gt;</c> (an authorized_keys line; a comment is dropped).</param>
    /// <param name="comment">The trailing field; Teleport uses <see cref="HostCaComment"/>. Null or empty for none.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">No pattern, or a pattern is empty or contains whitespace or a comma, or the comment spans lines.</exception>
    /// <exception cref="TeleportFormatException"><paramref name="publicKey"/> is not a well-formed OpenSSH public key.</exception>
    public KnownHostsCertAuthority(IEnumerable<string> hostPatterns, string publicKey, string? comment = HostCaComment)
    {
        ArgumentNullException.ThrowIfNull(hostPatterns);
        ArgumentNullException.ThrowIfNull(publicKey);
        var patterns = hostPatterns.ToList();
        if (FindProblem(patterns, comment) is ({ } problem, var inComment))
        {
            throw new ArgumentException(problem, inComment ? nameof(comment) : nameof(hostPatterns));
        }

        HostPatterns = patterns;
        PublicKey = SshKeyText.NormalizePublicKey(publicKey, "certificate authority public key");
        Comment = string.IsNullOrWhiteSpace(comment) ? null : comment.Trim();
    }

    /// <summary>The host patterns the CA is trusted for.</summary>
    public IReadOnlyList<string> HostPatterns { get; }

    /// <summary>The CA public key, <c>&lt;keytype&gt; &lt;base64&gt;</c>.</summary>
    public string PublicKey { get; }

    /// <summary>The key type, e.g. <c>ssh-rsa</c>, <c>ecdsa-sha2-nistp256</c>, <c>ssh-ed25519</c>.</summary>
    public string KeyType => PublicKey[..PublicKey.IndexOf(' ', StringComparison.Ordinal)];

    /// <summary>The trailing field (OpenSSH treats it as a comment; Teleport writes <c>type=host</c>), or null.</summary>
    public string? Comment { get; }

    /// <summary>
    /// The entry Teleport writes for a cluster's host CA key: patterns
    /// <c>[proxyHost,]&lt;cluster&gt;,*.&lt;cluster&gt;</c> and comment <c>type=host</c>.
    /// </summary>
    /// <param name="clusterName">The cluster name.</param>
    /// <param name="publicKey">The host CA public key, <c>&lt;keytype&gt; &lt;base64&gt;</c>.</param>
    /// <param name="proxyHost">A proxy host name to put first (tsh does when it knows one; tbot's identity file does not).</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentException">The cluster name or proxy host is not a valid pattern.</exception>
    /// <exception cref="TeleportFormatException"><paramref name="publicKey"/> is not a well-formed OpenSSH public key.</exception>
    public static KnownHostsCertAuthority ForCluster(string clusterName, string publicKey, string? proxyHost = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterName);
        string[] patterns = string.IsNullOrEmpty(proxyHost)
            ? [clusterName, "*." + clusterName]
            : [proxyHost, clusterName, "*." + clusterName];
        return new KnownHostsCertAuthority(patterns, publicKey);
    }

    /// <summary>Parses an <c>@cert-authority</c> line.</summary>
    /// <param name="line">The line (surrounding whitespace is ignored).</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="line"/> is null.</exception>
    /// <exception cref="TeleportFormatException">It is not a well-formed <c>@cert-authority</c> line.</exception>
    public static KnownHostsCertAuthority Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var fields = SshKeyText.SplitFields(line, 5);
        if (fields.Count < 4 || fields[0] != Marker)
        {
            throw new TeleportFormatException(
                "Expected a known_hosts line '@cert-authority <host patterns> <key type> <base64> [comment]'; the line is incomplete or has another marker.");
        }

        var patterns = fields[1].Split(',').ToList();
        if (patterns.Exists(static p => p.Length == 0))
        {
            throw new TeleportFormatException("An @cert-authority line has an empty host pattern.");
        }

        // Fields split at spaces and tabs only: a CR or LF left inside is the line's problem, not an argument's.
        var comment = fields.Count > 4 ? fields[4] : null;
        if (FindProblem(patterns, comment) is ({ } problem, _))
        {
            throw new TeleportFormatException("An @cert-authority line is malformed: " + problem);
        }

        return new KnownHostsCertAuthority(patterns, fields[2] + " " + fields[3], comment);
    }

    /// <summary>What makes the parts unusable in a known_hosts line (and whether it is the comment), or null.</summary>
    private static (string? Problem, bool InComment) FindProblem(List<string> patterns, string? comment)
    {
        if (patterns.Count == 0)
        {
            return ("At least one host pattern is needed.", false);
        }

        foreach (var pattern in patterns)
        {
            if (string.IsNullOrEmpty(pattern) || pattern.AsSpan().IndexOfAny(" \t\r\n,") >= 0)
            {
                return ($"The host pattern '{pattern.ReplaceLineEndings(" ")}' is empty or contains whitespace or a comma.", false);
            }
        }

        return comment is not null && comment.AsSpan().IndexOfAny('\r', '\n') >= 0 ? ("The comment must be a single line.", true) : (null, false);
    }

    /// <summary>The line, without a newline: <c>@cert-authority &lt;patterns&gt; &lt;key&gt;[ &lt;comment&gt;]</c>.</summary>
    /// <returns>The known_hosts line.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder(Marker.Length + PublicKey.Length + 64);
        AppendTo(sb);
        return sb.ToString();
    }

    internal void AppendTo(StringBuilder sb)
    {
        sb.Append(Marker).Append(' ');
        for (var i = 0; i < HostPatterns.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            sb.Append(HostPatterns[i]);
        }

        sb.Append(' ').Append(PublicKey);
        if (Comment is not null)
        {
            sb.Append(' ').Append(Comment);
        }
    }
}
