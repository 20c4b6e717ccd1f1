package dev.weft.coordinator.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Where a secure coordinator keeps its keys, under its data directory:
 *
 * <pre>
 *   DATA_DIR/security/          0700
 *     ca.pem                    the coordinator's CA certificate (its SHA-256 is in join tokens)
 *     ca.key                    0600, the CA's private key
 *     server.pem, server.key    the server certificate (0600 key), made again when names change
 *     token-secret              0600, the join token's secret, hex; `weft token rotate` replaces it
 *     revoked                   0600, SHA-256 of secrets revoked with `rotate --detach-workers`
 *     join.properties           what `weft token show` prints: address, fingerprint, options
 *     clients                   0600, client tokens: name, role, exec grant, SHA-256 of the secret
 *     admin-token               0600, the admin client token of the coordinator's own user
 *     .lock                     held while a coordinator prepares these files
 * </pre>
 *
 * Files are written whole to a temporary file and moved into place, so a reader never sees half.
 */
final class SecurityFiles {
  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> OWNER_DIR =
      PosixFilePermissions.fromString("rwx------");

  private final Path dataDir;
  private final Path dir;

  SecurityFiles(Path dataDir) {
    this.dataDir = dataDir;
    this.dir = dataDir.resolve("security");
  }

  Path dataDir() {
    return dataDir;
  }

  Path dir() {
    return dir;
  }

  Path caCert() {
    return dir.resolve("ca.pem");
  }

  Path caKey() {
    return dir.resolve("ca.key");
  }

  Path serverCert() {
    return dir.resolve("server.pem");
  }

  Path serverKey() {
    return dir.resolve("server.key");
  }

  Path secret() {
    return dir.resolve("token-secret");
  }

  Path revoked() {
    return dir.resolve("revoked");
  }

  Path clients() {
    return dir.resolve("clients");
  }

  Path adminToken() {
    return dir.resolve("admin-token");
  }

  Path join() {
    return dir.resolve("join.properties");
  }

  /** Creates the directory (owner only) when it is missing. */
  void create() throws IOException {
    Files.createDirectories(dataDir);
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
    }
    Files.setPosixFilePermissions(dir, OWNER_DIR);
  }

  /**
   * Holds the directory against other coordinators (or {@code weft token rotate}) with the same
   * data directory while keys are made, so two never make two CAs.
   */
  Lock lock() throws IOException {
    FileChannel channel =
        FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    try {
      channel.lock();
      return new Lock(channel);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** A held lock; closing its channel releases it. */
  record Lock(FileChannel channel) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  /** Writes {@code text} readable by the owner only (0600), replacing the file at once. */
  void write(Path file, String text) throws IOException {
    Path temp =
        Files.createTempFile(
            dir,
            "." + file.getFileName(),
            ".tmp",
            PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    try {
      Files.writeString(temp, text, StandardCharsets.US_ASCII, StandardOpenOption.WRITE);
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
      try {
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  /** Whether {@code file} may be read by others than its owner (then it is worth a warning). */
  static boolean readableByOthers(Path file) {
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
      return permissions.contains(PosixFilePermission.GROUP_READ)
          || permissions.contains(PosixFilePermission.OTHERS_READ);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the permissions of " + file, e);
    }
  }
}
