package dev.weft.coordinator.security;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * Where a user's coordinators on this host say which data directory serves which port, so that the
 * same user's {@code weft} commands pointed at {@code 127.0.0.1:PORT} find that coordinator's
 * tokens without anyone typing them, whatever its {@code --data-dir}:
 *
 * <pre>
 *   $XDG_RUNTIME_DIR/weft/ (else /tmp/weft-UID/)   0700, the user's own
 *     port-PORT                                    data-dir=..., pid=..., socket=...
 * </pre>
 *
 * A directory or entry that is not the user's own, or that others may write, is ignored: another
 * user could otherwise point our commands at tokens of theirs. What the entry leads to is only ever
 * used through the token's pin, so a process that took the port gets no token from us.
 */
public final class LocalCoordinators {
  private static final System.Logger LOG = System.getLogger(LocalCoordinators.class.getName());
  private static final Set<PosixFilePermission> OWNER_DIR =
      PosixFilePermissions.fromString("rwx------");

  private final Path dir;
  private final int uid;

  LocalCoordinators(Path dir, int uid) {
    this.dir = dir;
    this.uid = uid;
  }

  /** The registry of the user running this process. */
  public static LocalCoordinators ofThisUser() {
    int uid = (int) uidOf(Path.of("/proc/self"));
    return new LocalCoordinators(defaultDir(System.getenv(), uid), uid);
  }

  static Path defaultDir(Map<String, String> env, int uid) {
    String runtime = env.get("XDG_RUNTIME_DIR");
    if (runtime != null && !runtime.isBlank() && Path.of(runtime).isAbsolute()) {
      return Path.of(runtime, "weft");
    }
    return Path.of(System.getProperty("java.io.tmpdir"), "weft-" + uid);
  }

  /**
   * A coordinator's tokens, found through its entry, and its Unix socket (null when it serves
   * none).
   */
  public record Local(int port, Path dataDir, Path socket) {
    /** Its Unix socket, when it has one that this process may connect to. */
    public Optional<Path> connectableSocket() {
      return socket != null && Files.isWritable(socket) ? Optional.of(socket) : Optional.empty();
    }

    /** The admin client token of the coordinator's own user. */
    public Optional<String> adminToken() {
      try {
        return Optional.of(
            Files.readString(new SecurityFiles(dataDir).adminToken(), StandardCharsets.US_ASCII)
                .strip());
      } catch (IOException e) {
        return Optional.empty();
      }
    }

    /** The join token for workers. */
    public Optional<String> joinToken() {
      try {
        return JoinTokenFiles.show(dataDir).token();
      } catch (IOException e) {
        return Optional.empty();
      }
    }
  }

  /**
   * Records that the coordinator with {@code dataDir} serves {@code port} (and {@code socket}, if
   * not null); false when it cannot.
   */
  public boolean register(int port, Path dataDir, Path socket) {
    try {
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectories(dir.getParent());
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
      }
      if (!trusted(dir)) {
        LOG.log(
            System.Logger.Level.WARNING,
            "{0} is not this user''s own private directory; local weft commands will need --token",
            dir);
        return false;
      }
      Properties entry = new Properties();
      entry.setProperty("data-dir", dataDir.toAbsolutePath().toString());
      entry.setProperty("pid", Long.toString(ProcessHandle.current().pid()));
      if (socket != null) {
        entry.setProperty("socket", socket.toAbsolutePath().toString());
      }
      StringWriter text = new StringWriter();
      entry.store(text, "written by weft coordinator; read by weft commands of this user");
      Path temp =
          Files.createTempFile(
              dir,
              ".port-" + port,
              ".tmp",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(temp, text.toString(), StandardCharsets.ISO_8859_1);
      Files.move(
          temp, entry(port), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return true;
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot record port {0} in {1}: {2}; local weft commands will need --token",
          port,
          dir,
          e.getMessage());
      return false;
    }
  }

  /** Removes the entry of {@code port} if it is still this process's. */
  public void unregister(int port) {
    Path entry = entry(port);
    try {
      Properties properties = read(entry);
      if (properties != null
          && Long.toString(ProcessHandle.current().pid()).equals(properties.getProperty("pid"))) {
        Files.deleteIfExists(entry);
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove {0}: {1}", entry, e.getMessage());
    }
  }

  /** The coordinator of this user that serves {@code port}, if one said so and still runs. */
  public Optional<Local> find(int port) {
    Path entry = entry(port);
    try {
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) || !trusted(dir) || !trusted(entry)) {
        return Optional.empty();
      }
      Properties properties = read(entry);
      if (properties == null) {
        return Optional.empty();
      }
      String dataDir = properties.getProperty("data-dir");
      long pid = Long.parseLong(properties.getProperty("pid", "-1"));
      if (dataDir == null || ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true)) {
        return Optional.empty();
      }
      String socket = properties.getProperty("socket");
      return Optional.of(
          new Local(port, Path.of(dataDir), socket == null ? null : Path.of(socket)));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  private Path entry(int port) {
    return dir.resolve("port-" + port);
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

  private static Properties read(Path entry) throws IOException {
    try {
      Properties properties = new Properties();
      properties.load(new StringReader(Files.readString(entry, StandardCharsets.ISO_8859_1)));
      return properties;
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private static long uidOf(Path path) {
    try {
      return ((Number) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
    } catch (IOException e) {
      return -1;
    }
  }
}
