package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static dev.weft.cli.ProcessCluster.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weft.coordinator.security.LocalDoor;
import dev.weft.v1.Job;
import dev.weft.wire.Address;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The local door: a coordinator's Unix socket, whose callers are known by the uid the kernel
 * reports (SO_PEERCRED). A second local user, made for the test ({@code useradd --system}), runs
 * the CLI through {@code setpriv} against real coordinator processes: refused on the port (no
 * token) and on the socket (EACCES on a 0600 socket, PERMISSION_DENIED on a 0666 one that does not
 * grant it), let in with {@code --allow-uid UID:submit}, its jobs owned by {@code uid:UID}, and no
 * exec without {@code +exec}. The coordinator's own user gets admin on the socket with no token,
 * and its commands pointed at the loopback port go through the socket by themselves.
 */
final class UnixSocketEndToEndTest {
  private static String user;
  private static int uid;
  private static int gid;
  // What the other user's JVM runs from: a copy of the class path it can read.
  private static Path runtime;
  private static List<String> classPath;

  @BeforeAll
  static void makeUser() throws Exception {
    assumeTrue(LocalDoor.uidOfThisProcess() == 0, "needs root: it creates a second local user");
    assumeTrue(
        Files.isExecutable(Path.of("/usr/sbin/useradd"))
            && Files.isExecutable(Path.of("/usr/sbin/userdel"))
            && Files.isExecutable(Path.of("/usr/bin/setpriv")),
        "needs useradd, userdel and setpriv");
    user = "weft-test-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    run("/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user);
    uid = Integer.parseInt(run("id", "-u", user).strip());
    gid = Integer.parseInt(run("id", "-g", user).strip());
    runtime = Files.createTempDirectory("weft-uds-cp-");
    Files.setPosixFilePermissions(runtime, PosixFilePermissions.fromString("rwxr-xr-x"));
    classPath = copyClassPath(runtime);
  }

  @AfterAll
  static void removeUser() throws Exception {
    if (user != null) {
      run("/usr/sbin/userdel", user);
    }
    if (runtime != null) {
      deleteTree(runtime);
    }
  }

  @Test
  void anotherUserWithoutAGrantGetsInNeitherByThePortNorByTheSocket() throws Exception {
    Path socketDir = socketDir();
    Path socket = socketDir.resolve("c.sock");
    try (ProcessCluster cluster = new ProcessCluster()) {
      Address port = cluster.startCoordinator(0, "--socket", socket.toString());
      assertEquals(
          "rw-------",
          PosixFilePermissions.toString(
              Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));

      // The port: no token of its own and none to find, so it sends nothing there at all.
      CliResult tcp =
          asOtherUser(
              "submit", "sum", "--from", "1", "--to", "10", "--coordinator", port.toString());
      assertExit(ExitCodes.UNREACHABLE, tcp);
      assertTrue(tcp.err().contains("no coordinator of this user serves " + port), tcp::toString);

      // The socket is 0600: the kernel refuses the connection (EACCES) before the coordinator
      // sees it.
      CliResult unix =
          asOtherUser(
              "submit", "sum", "--from", "1", "--to", "10", "--coordinator", "unix:" + socket);
      assertExit(ExitCodes.REFUSED, unix);
      assertTrue(unix.err().contains("(permission denied)"), unix::toString);
      assertTrue(unix.err().contains("--allow-uid " + uid), unix::toString);

      // The coordinator's own user: admin on the socket, with no token.
      CliResult own =
          cli(
              "submit",
              "sum",
              "--from",
              "1",
              "--to",
              "10",
              "--json",
              "--coordinator",
              "unix:" + socket);
      assertExit(ExitCodes.OK, own);
      assertEquals("uid:0", own.job().getSpec().getOwner(), own::toString);
      // Pointed at the port without a token, its commands take the socket the registry names.
      CliResult viaRegistry =
          cli(
              "submit",
              "sum",
              "--from",
              "1",
              "--to",
              "10",
              "--json",
              "--coordinator",
              port.toString());
      assertExit(ExitCodes.OK, viaRegistry);
      assertEquals("uid:0", viaRegistry.job().getSpec().getOwner(), viaRegistry::toString);
      // With the admin token given, the port as before: the token's name owns the job.
      CliResult withToken =
          cli(
              "submit",
              "sum",
              "--from",
              "1",
              "--to",
              "10",
              "--json",
              "--coordinator",
              port.toString(),
              "--token",
              cluster.adminToken());
      assertExit(ExitCodes.OK, withToken);
      assertEquals("admin", withToken.job().getSpec().getOwner(), withToken::toString);
    } finally {
      deleteTree(socketDir);
    }
    assertTrue(Files.notExists(socket), "the coordinator removes its socket when it stops");
  }

  @Test
  void aSocketOpenToOthersStillRefusesAUidItDoesNotGrant() throws Exception {
    Path socketDir = socketDir();
    Path socket = socketDir.resolve("c.sock");
    try (ProcessCluster cluster = new ProcessCluster()) {
      // Another uid is granted: the socket is 0666, and the uid check is the door.
      cluster.startCoordinator(
          0, "--socket", socket.toString(), "--allow-uid", (uid + 1) + ":submit");
      assertEquals(
          "rw-rw-rw-",
          PosixFilePermissions.toString(
              Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
      CliResult unix = asOtherUser("jobs", "--coordinator", "unix:" + socket);
      assertExit(ExitCodes.REFUSED, unix);
      assertTrue(
          unix.err().contains("uid " + uid + " may not use this coordinator's socket")
              && unix.err().contains("--allow-uid " + uid),
          unix::toString);
    } finally {
      deleteTree(socketDir);
    }
  }

  @Test
  void aGrantedUserSubmitsOverTheSocketAsItsUidButRunsNoExecWithoutTheGrant() throws Exception {
    Path socketDir = socketDir();
    Path socket = socketDir.resolve("c.sock");
    try (ProcessCluster cluster = new ProcessCluster()) {
      Address port =
          cluster.startCoordinator(
              0, "--socket", socket.toString(), "--allow-uid", uid + ":submit");
      CliResult submitted =
          asOtherUser(
              "submit",
              "sum",
              "--from",
              "1",
              "--to",
              "10",
              "--json",
              "--coordinator",
              "unix:" + socket);
      assertExit(ExitCodes.OK, submitted);
      Job job = submitted.job();
      assertEquals("uid:" + uid, job.getSpec().getOwner(), submitted::toString);

      CliResult exec =
          asOtherUser("submit", "exec", "--coordinator", "unix:" + socket, "--", "true");
      assertExit(ExitCodes.REFUSED, exec);
      assertTrue(
          exec.err().contains("uid " + uid + " may not submit exec jobs")
              && exec.err().contains("--allow-uid " + uid + ":submit+exec"),
          exec::toString);

      // The grant is the socket's alone: the port still wants a token.
      CliResult tcp = asOtherUser("jobs", "--coordinator", port.toString());
      assertExit(ExitCodes.UNREACHABLE, tcp);

      // The coordinator's own user is admin there: it may cancel the other user's job.
      CliResult cancel = cli("cancel", job.getId(), "--json", "--coordinator", "unix:" + socket);
      assertExit(ExitCodes.OK, cancel);
      assertEquals(dev.weft.v1.JobState.CANCELLED, cancel.job().getState(), cancel::toString);
    } finally {
      deleteTree(socketDir);
    }
  }

  @Test
  void badAllowUidValuesAreUsageErrorsThatSayTheForm() {
    for (String bad : List.of("alice", "1001:owner", "-5", "1001:submit+root", "")) {
      CliResult r = cli("coordinator", "--allow-uid", bad);
      assertExit(ExitCodes.USAGE, r);
      assertTrue(r.err().contains("UID[:ROLE][+exec]"), () -> bad + ": " + r);
    }
  }

  /** A directory for a socket that the other user may pass through (0711), removed by the test. */
  private static Path socketDir() throws IOException {
    Path dir = Files.createTempDirectory("weft-uds-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    return dir;
  }

  /** Runs the CLI as the test's second user, with a deadline, and returns what it did. */
  private static CliResult asOtherUser(String... args) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                "/usr/bin/setpriv",
                "--reuid=" + uid,
                "--regid=" + gid,
                "--clear-groups",
                ProcessHandle.current().info().command().orElseThrow()));
    command.addAll(BuildInfo.jvmFlags());
    // No /tmp/hsperfdata_USER left behind by a user that is gone after the test.
    command.add("-XX:-UsePerfData");
    command.add("-D" + ConfigDefaults.SEARCH_PROPERTY + "=false");
    command.addAll(
        List.of("-cp", String.join(File.pathSeparator, classPath), Main.class.getName()));
    command.addAll(List.of(args));
    Path out = Files.createTempFile(runtime, "out-", ".txt");
    Path err = Files.createTempFile(runtime, "err-", ".txt");
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().keySet().removeIf(name -> name.startsWith("WEFT_"));
    builder.environment().remove("XDG_RUNTIME_DIR");
    builder.environment().put("HOME", runtime.toString());
    Process process =
        builder
            .directory(runtime.toFile())
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    try {
      if (!process.waitFor(ProcessCluster.CLI_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("weft " + String.join(" ", args) + " did not finish in time");
      }
      return new CliResult(
          process.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      process.destroyForcibly();
      process.waitFor(ProcessCluster.STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /**
   * This JVM's class path, copied under {@code into} (world-readable): the Maven repository it
   * comes from may sit in root's home, which the other user cannot enter.
   */
  private static List<String> copyClassPath(Path into) throws IOException {
    List<String> copied = new ArrayList<>();
    int n = 0;
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path source = Path.of(entry);
      if (!Files.exists(source)) {
        continue;
      }
      Path target = into.resolve(n++ + "-" + source.getFileName());
      if (Files.isDirectory(source)) {
        try (var files = Files.walk(source)) {
          for (Path file : (Iterable<Path>) files::iterator) {
            Path to = target.resolve(source.relativize(file).toString());
            if (Files.isDirectory(file)) {
              Files.createDirectories(to);
            } else {
              Files.copy(file, to, StandardCopyOption.REPLACE_EXISTING);
            }
          }
        }
      } else {
        Files.copy(source, target);
      }
      copied.add(target.toString());
    }
    try (var files = Files.walk(into)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        Files.setPosixFilePermissions(
            file,
            PosixFilePermissions.fromString(Files.isDirectory(file) ? "rwxr-xr-x" : "rw-r--r--"));
      }
    }
    return copied;
  }

  private static String run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
    return output;
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var files = Files.walk(root)) {
      files
          .sorted(Comparator.reverseOrder())
          .forEach(
              path -> {
                try {
                  Files.deleteIfExists(path);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    }
  }
}
