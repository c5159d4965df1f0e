namespace Teleport.MachineId.Tests.Errors;

public sealed class TeleportExceptionTests
{
    [Test]
    public void Only_connection_failures_are_transient()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new TeleportConnectionException("down").IsTransient, Is.True);
            Assert.That(new TeleportAccessDeniedException("no").IsTransient, Is.False);
            Assert.That(new TeleportNotFoundException("gone").IsTransient, Is.False);
            Assert.That(new TeleportJoinException("bad token").IsTransient, Is.False);
            Assert.That(new TeleportProtocolException("odd reply").IsTransient, Is.False);
            Assert.That(new TeleportFormatException("bad pem").IsTransient, Is.False);
        });
    }

    [Test]
    public void Certificate_validation_failure_keeps_its_reason()
    {
        var ex = new CertificateValidationException(CertificateValidationFailure.Expired, "expired");
        Assert.That(ex.Failure, Is.EqualTo(CertificateValidationFailure.Expired));
        Assert.That(ex, Is.InstanceOf<TeleportException>());
    }
}
