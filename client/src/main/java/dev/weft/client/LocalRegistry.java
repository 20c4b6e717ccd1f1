package dev.weft.client;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * Reads the registry where a user's coordinators on this host say which data directory (and Unix
 * socket) serves which port, so that this user's programs pointed at {@code 127.0.0.1:PORT} find
 * that coordinator without a token being typed:
 *
 * <pre>
 *   $XDG_RUNTIME_DIR/weft/ (else /tmp/weft-UID/)   0700, the user's own
 *     port-PORT                                    data-dir=..., pid=..., socket=...
 *   DATA_DIR/security/admin-token                  the admin client token of that coordinator
 * </pre>
 *
 * The coordinator writes it (LocalCoordinators in the coordinator module, which this mirrors so the
 * client needs no coordinator on its class path). A directory or entry that is not the user's own,
 * or that others may write, is ignored: another user could otherwise lead us to tokens of theirs.
 */
final class LocalRegistry {
  private final Path dir;
  private final long uid;

  LocalRegistry(Path dir, long uid) {
    this.dir = dir;
    this.uid = uid;
  }

  /** The registry of the user running this process. */
  static LocalRegistry ofThisUser() {
    long uid = thisUid();
    return new LocalRegistry(defaultDir(System.getenv(), uid), uid);
  }

  static long thisUid() {
    return uidOf(Path.of("/proc/self"));
  }

  static Path defaultDir(Map<String, String> env, long uid) {
    String runtime = env.get("XDG_RUNTIME_DIR");
    if (runtime != null && !runtime.isBlank() && Path.of(runtime).isAbsolute()) {
      return Path.of(runtime, "weft");
    }
    return Path.of(System.getProperty("java.io.tmpdir"), "weft-" + uid);
  }

  /** A running coordinator of this user: its data directory and its socket (null if none). */
  record Local(Path dataDir, Path socket) {
    /** Its Unix socket, when it has one that this process may connect to. */
    Optional<Path> connectableSocket() {
      return socket != null && Files.isWritable(socket) ? Optional.of(socket) : Optional.empty();
    }

    /** The admin client token of the coordinator's own user. */
    Optional<String> adminToken() {
      try {
        return Optional.of(
            Files.readString(
                    dataDir.resolve("security").resolve("admin-token"), StandardCharsets.US_ASCII)
                .strip());
      } catch (IOException e) {
        return Optional.empty();
      }
    }
  }

  /** The coordinator of this user that serves {@code port}, if one said so and still runs. */
  Optional<Local> find(int port) {
    Path entry = dir.resolve("port-" + port);
    try {
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) || !trusted(dir) || !trusted(entry)) {
        return Optional.empty();
      }
      Properties properties = new Properties();
      properties.load(new StringReader(Files.readString(entry, StandardCharsets.ISO_8859_1)));
      String dataDir = properties.getProperty("data-dir");
      long pid = Long.parseLong(properties.getProperty("pid", "-1"));
      if (dataDir == null || ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true)) {
        return Optional.empty();
      }
      String socket = properties.getProperty("socket");
      return Optional.of(new Local(Path.of(dataDir), socket == null ? null : Path.of(socket)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** Ours, not a link, and nobody else may write it (a directory: nobody else may enter it). */
  private boolean trusted(Path path) throws IOException {
    if (Files.isSymbolicLink(path) || uidOf(path) != uid) {
      return false;
    }
    Set<PosixFilePermission> permissions =
        Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
    return !permissions.contains(PosixFilePermission.GROUP_WRITE)
        && !permissions.contains(PosixFilePermission.OTHERS_WRITE)
        && (!Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)
            || !(permissions.contains(PosixFilePermission.OTHERS_EXECUTE)
                || permissions.contains(PosixFilePermission.GROUP_EXECUTE)));
  }

  private static long uidOf(Path path) {
    try {
      return ((Number) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
    } catch (IOException | UnsupportedOperationException e) {
      return -1;
    }
  }
}
