package dev.weft.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.wire.Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where credentials and the address come from, and what a loopback address is reached with. */
final class CredentialsTest {
  // The shape of a weft token: a CA fingerprint and a secret; no coordinator has this one.
  private static final String TOKEN = "weft1-" + "ab".repeat(32) + "-" + "cd".repeat(16);
  private static final String OTHER = "weft1-" + "12".repeat(32) + "-" + "34".repeat(16);

  @TempDir Path dir;

  private Properties noSearch() {
    Properties system = new Properties();
    system.setProperty("weft.config.search", "false");
    return system;
  }

  private Path config(String text) throws Exception {
    Path file = dir.resolve("weft.properties");
    Files.writeString(file, text);
    return file;
  }

  @Test
  void theEnvironmentBeatsTheConfigFile() throws Exception {
    Path file = config("token = " + OTHER + "\ncoordinator = a:1,b:2\n");
    Map<String, String> env = Map.of("WEFT_CONFIG", file.toString(), "WEFT_TOKEN", TOKEN);

    Credentials found = Credentials.found(env, noSearch());

    Route route = found.route(new Address("10.0.0.1", 7070), new LocalRegistry(dir, -1));
    assertTrue(route.security().sameSettings(new dev.weft.security.ClientSecurity().token(TOKEN)));
    assertEquals("a:1,b:2", Credentials.foundAddress(env, noSearch()));
    assertFalse(found.toString().contains("cd".repeat(16)), "no secret in " + found);
  }

  @Test
  void theConfigFileGivesWhatTheEnvironmentDoesNot() throws Exception {
    Path file = config("token=" + OTHER + "\n");

    Credentials found = Credentials.found(Map.of("WEFT_CONFIG", file.toString()), noSearch());

    Route route = found.route(new Address("10.0.0.1", 7070), new LocalRegistry(dir, -1));
    assertTrue(route.security().sameSettings(new dev.weft.security.ClientSecurity().token(OTHER)));
    assertEquals(Address.DEFAULT, Credentials.foundAddress(Map.of(), noSearch()));
  }

  @Test
  void aMissingConfigFileOrADamagedTokenIsRefusedAtOnce() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Credentials.found(Map.of("WEFT_CONFIG", dir.resolve("none").toString()), noSearch()));
    IllegalArgumentException damaged =
        assertThrows(IllegalArgumentException.class, () -> Credentials.token("weft1-nonsense"));
    assertFalse(damaged.getMessage().contains("nonsense"), damaged.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> Credentials.insecure().withServerName("coordinator"));
  }

  @Test
  void withNothingGivenAndNoCoordinatorRegisteredNothingIsSent() {
    Route route =
        Credentials.localUser().route(new Address("127.0.0.1", 7070), new LocalRegistry(dir, -1));
    assertNull(route.security(), "nothing to talk with");
  }

  @Test
  void aRegisteredCoordinatorOfThisUserIsReachedWithItsAdminToken() throws Exception {
    long uid = LocalRegistry.thisUid();
    Path registry =
        Files.createDirectory(
            dir.resolve("registry"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path dataDir = dir.resolve("data");
    Files.createDirectories(dataDir.resolve("security"));
    Files.writeString(dataDir.resolve("security/admin-token"), TOKEN + "\n");
    Files.writeString(
        registry.resolve("port-7070"),
        "data-dir=" + dataDir + "\npid=" + ProcessHandle.current().pid() + "\n");
    Files.setPosixFilePermissions(
        registry.resolve("port-7070"), PosixFilePermissions.fromString("rw-------"));

    Route route =
        Credentials.localUser()
            .route(new Address("127.0.0.1", 7070), new LocalRegistry(registry, uid));
    Route remote =
        Credentials.localUser()
            .route(new Address("10.0.0.1", 7070), new LocalRegistry(registry, uid));

    assertTrue(route.security().sameSettings(new dev.weft.security.ClientSecurity().token(TOKEN)));
    assertNull(remote.security(), "the registry is for this host's loopback ports only");
    Files.setPosixFilePermissions(registry, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertNull(
        Credentials.localUser()
            .route(new Address("127.0.0.1", 7070), new LocalRegistry(registry, uid))
            .security(),
        "a registry others may write is ignored");
  }
}
