namespace Teleport.MachineId.Testing.Cluster.Joins;

/// <summary>Teleport's checks of a token resource's spec when it is created (<c>CheckAndSetDefaults</c>).</summary>
internal static class JoinTokenRules
{
    private static readonly string[] RecoveryModes = ["standard", "relaxed", "insecure"];

    /// <exception cref="TraceException">The spec is invalid (BadParameter).</exception>
    public static void Validate(EmulatorJoinToken token)
    {
        if (!EmulatorJoinMethods.IsKnown(token.JoinMethod))
        {
            throw TraceException.BadParameter(
                $"join method \"{token.JoinMethod}\" is not emulated; use token, github, gitlab, kubernetes or bound_keypair");
        }

        switch (token.JoinMethod)
        {
            case EmulatorJoinMethods.GitHub:
                var github = token.GitHub ?? throw TraceException.BadParameter("spec.github: field is required for the \"github\" join method");
                if (github.Allow.Count == 0)
                {
                    throw TraceException.BadParameter("the \"github\" join method requires defined github allow rules");
                }

                if (github.Allow.Any(r => string.IsNullOrEmpty(r.Repository) && string.IsNullOrEmpty(r.RepositoryOwner) && string.IsNullOrEmpty(r.Sub)))
                {
                    throw TraceException.BadParameter("allow rule for \"github\" must include at least one of \"repository\", \"repository_owner\" or \"sub\"");
                }

                break;
            case EmulatorJoinMethods.GitLab:
                var gitlab = token.GitLab ?? throw TraceException.BadParameter("spec.gitlab: field is required for the \"gitlab\" join method");
                if (gitlab.Allow.Count == 0)
                {
                    throw TraceException.BadParameter("the \"gitlab\" join method requires defined gitlab allow rules");
                }

                if (gitlab.Allow.Any(r => string.IsNullOrEmpty(r.ProjectPath) && string.IsNullOrEmpty(r.NamespacePath) && string.IsNullOrEmpty(r.Sub)))
                {
                    throw TraceException.BadParameter("allow rule for \"gitlab\" must include at least one of \"project_path\", \"namespace_path\" or \"sub\"");
                }

                break;
            case EmulatorJoinMethods.Kubernetes:
                var kubernetes = token.Kubernetes ?? throw TraceException.BadParameter("spec.kubernetes: field is required for the \"kubernetes\" join method");
                if (kubernetes.Type is not (EmulatorKubernetesJoinSpec.InCluster or EmulatorKubernetesJoinSpec.StaticJwksType))
                {
                    throw TraceException.BadParameter($"spec.kubernetes.type: \"{kubernetes.Type}\" is not supported; expected in_cluster or static_jwks");
                }

                if (kubernetes.AllowServiceAccounts.Count == 0)
                {
                    throw TraceException.BadParameter("the \"kubernetes\" join method requires defined kubernetes allow rules");
                }

                foreach (var account in kubernetes.AllowServiceAccounts)
                {
                    var parts = account.Split(':');
                    if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                    {
                        throw TraceException.BadParameter(
                            $"the \"kubernetes\" join method service account rule format is \"namespace:service_account\", got \"{account}\" instead");
                    }
                }

                if (kubernetes.Type == EmulatorKubernetesJoinSpec.StaticJwksType && string.IsNullOrWhiteSpace(kubernetes.StaticJwks))
                {
                    throw TraceException.BadParameter("spec.kubernetes.static_jwks.jwks: must be set when type is \"static_jwks\"");
                }

                break;
            case EmulatorJoinMethods.BoundKeypair:
                var boundKeypair = token.BoundKeypair ?? throw TraceException.BadParameter("bound_keypair token requires non-nil spec.bound_keypair");
                if (!RecoveryModes.Contains(boundKeypair.RecoveryMode, StringComparer.Ordinal))
                {
                    throw TraceException.BadParameter(
                        $"spec.bound_keypair.recovery.mode: invalid recovery mode \"{boundKeypair.RecoveryMode}\", expected one of standard, relaxed, insecure");
                }

                if (boundKeypair.RecoveryLimit < 0)
                {
                    throw TraceException.BadParameter("spec.bound_keypair.recovery.limit: must not be negative");
                }

                if (boundKeypair.InitialPublicKey is { } key)
                {
                    try
                    {
                        Crypto.PublicKeyInfo.ParseAuthorizedKey(key);
                    }
                    catch (TeleportFormatException ex)
                    {
                        throw TraceException.BadParameter("spec.bound_keypair.onboarding.initial_public_key: " + ex.Message);
                    }
                }

                break;
        }
    }
}
