using Teleport.MachineId.Destinations;
using Teleport.MachineId.Identity.Storage;
using Teleport.MachineId.Tests.Destinations;

namespace Teleport.MachineId.Tests.Identity.Internal;

/// <summary>Joins spend a single-use token only when their result can be stored (issue 13 defect 2, SDK side).</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class JoinTransactionTests
{
    [Test]
    public async Task A_storage_that_cannot_take_the_identity_fails_the_join_before_the_token_is_spent()
    {
        await using var fixture = await EmulatorBotFixture.StartAsync();
        var token = await fixture.WriteNewTokenAsync();
        Directory.CreateDirectory(Path.Combine(fixture.StoragePath, DirectoryBotIdentityStore.IdentityFileName));

        var error = Assert.ThrowsAsync<DestinationException>(() => BotIdentityProvider.JoinOrRenewOnceAsync(fixture.Options(), timeProvider: fixture.Time));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Failure, Is.AnyOf(DestinationFailure.UnexpectedContent, DestinationFailure.IOError));
            Assert.That(error.Message, Does.Contain(DirectoryBotIdentityStore.IdentityFileName));
            Assert.That(fixture.Emulator.JoinTokenExists(token), Is.True, "the token is not spent");
        });

        Directory.Delete(Path.Combine(fixture.StoragePath, DirectoryBotIdentityStore.IdentityFileName));
        var joined = await BotIdentityProvider.JoinOrRenewOnceAsync(fixture.Options(), timeProvider: fixture.Time);
        Assert.That(joined.Generation, Is.EqualTo(1), "the same token joins once the storage is fixed");
    }

    [Test]
    public async Task An_immutable_storage_fails_the_join_before_the_token_is_spent()
    {
        // Tests run as root, which ignores permission bits; the immutable attribute binds root too.
        var chattr = ProcessRunner.Require("chattr", "e2fsprogs");
        await using var fixture = await EmulatorBotFixture.StartAsync();
        var token = await fixture.WriteNewTokenAsync();
        await using (DirectoryBotIdentityStore.Open(fixture.StoragePath))
        {
            // Creates the directory and its lock file, as a first run would.
        }

        var result = ProcessRunner.Run(chattr, "+i", fixture.StoragePath);
        if (result.ExitCode != 0)
        {
            Assert.Ignore($"The temp file system does not support chattr +i: {result.StandardError.Trim()}");
        }

        try
        {
            var error = Assert.ThrowsAsync<DestinationException>(() => BotIdentityProvider.JoinOrRenewOnceAsync(fixture.Options(), timeProvider: fixture.Time));
            Assert.Multiple(() =>
            {
                Assert.That(error!.Failure, Is.EqualTo(DestinationFailure.NotWritable));
                Assert.That(fixture.Emulator.JoinTokenExists(token), Is.True, "the token is not spent");
                Assert.That(fixture.Emulator.BotInstances, Is.Empty);
            });
        }
        finally
        {
            ProcessRunner.Run(chattr, "-i", fixture.StoragePath);
        }
    }
}
