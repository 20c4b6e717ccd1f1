package dev.weft.coordinator;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A PostgreSQL server of a test's own, from Debian's {@code postgresql} package ({@code ./build
 * test} installs it, see scripts/test-tools.sh): {@code initdb} in a temporary directory, then
 * {@code postgres} on a free loopback port with its socket in that directory. PostgreSQL refuses to
 * run as root, so as root both run as {@code nobody} ({@code setpriv}), which owns the directory.
 * Clients log in as {@link #USER} with {@link #PASSWORD} (scram-sha-256 over TCP). {@link #close}
 * stops the server (SIGTERM, then SIGKILL past a deadline) and deletes the directory. Without the
 * package the calling test is skipped, saying why.
 */
public final class TestPostgres implements AutoCloseable {
  public static final String USER = "weft";
  public static final String PASSWORD = "test-password";
  private static final Duration START_DEADLINE = Duration.ofSeconds(60);
  private static final Duration STOP_DEADLINE = Duration.ofSeconds(15);
  private static final String RUN_AS_USER = "nobody";
  private static final String RUN_AS_GROUP = "nogroup";

  private final Path dir;
  private final Process server;
  private final int port;
  private final AtomicInteger databases = new AtomicInteger();

  private TestPostgres(Path dir, Process server, int port) {
    this.dir = dir;
    this.server = server;
    this.port = port;
  }

  /**
   * One server for a test class: {@code @RegisterExtension static final TestPostgres.PerClass
   * SERVER = new TestPostgres.PerClass();} starts it before the class's first test (or skips the
   * class) and stops it after its last.
   */
  public static final class PerClass
      implements org.junit.jupiter.api.extension.BeforeAllCallback,
          org.junit.jupiter.api.extension.AfterAllCallback {
    private TestPostgres server;

    @Override
    public void beforeAll(org.junit.jupiter.api.extension.ExtensionContext context)
        throws Exception {
      server = TestPostgres.start();
    }

    @Override
    public void afterAll(org.junit.jupiter.api.extension.ExtensionContext context)
        throws Exception {
      if (server != null) {
        server.close();
        server = null;
      }
    }

    /** The running server. */
    public TestPostgres get() {
      if (server == null) {
        throw new IllegalStateException("the PostgreSQL server runs only within its test class");
      }
      return server;
    }
  }

  /** Starts a server, or skips the calling test when PostgreSQL is not installed. */
  public static TestPostgres start() throws IOException, InterruptedException {
    return start(null, null);
  }

  /**
   * As {@link #start()}, listening on {@code extraAddress} too (an address of this host, such as
   * one end of a veth pair made by the test) and taking password logins from {@code cidr}.
   */
  public static TestPostgres start(String extraAddress, String cidr)
      throws IOException, InterruptedException {
    Path bin = binDir();
    Assumptions.assumeTrue(
        bin != null,
        "PostgreSQL is not installed (Debian package postgresql: no /usr/lib/postgresql/*/bin);"
            + " ./build test installs it where it can");
    boolean root = "root".equals(System.getProperty("user.name"));
    Path dir = Files.createTempDirectory("weft-pg-");
    Process server = null;
    try {
      List<String> asUser = new ArrayList<>();
      if (root) {
        UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
        PosixFileAttributeView view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
        view.setOwner(users.lookupPrincipalByName(RUN_AS_USER));
        GroupPrincipal group = users.lookupPrincipalByGroupName(RUN_AS_GROUP);
        view.setGroup(group);
        asUser.addAll(
            List.of(
                "setpriv",
                "--reuid=" + RUN_AS_USER,
                "--regid=" + RUN_AS_GROUP,
                "--clear-groups",
                "--"));
      }
      Path pwfile = dir.resolve("pwfile");
      Files.writeString(pwfile, PASSWORD + "\n");
      if (root) {
        Files.getFileAttributeView(pwfile, PosixFileAttributeView.class)
            .setOwner(
                dir.getFileSystem()
                    .getUserPrincipalLookupService()
                    .lookupPrincipalByName(RUN_AS_USER));
      }
      Path data = dir.resolve("data");
      List<String> initdb = new ArrayList<>(asUser);
      initdb.addAll(
          List.of(
              bin.resolve("initdb").toString(),
              "-D",
              data.toString(),
              "-U",
              USER,
              "--pwfile=" + pwfile,
              "--auth-host=scram-sha-256",
              "--auth-local=trust",
              "--no-sync",
              "-E",
              "UTF8",
              "--locale=C"));
      run(initdb, dir.resolve("initdb.log"));
      if (cidr != null) {
        Files.writeString(
            data.resolve("pg_hba.conf"),
            "host all all " + cidr + " scram-sha-256\n",
            java.nio.file.StandardOpenOption.APPEND);
      }
      int port = freePort();
      List<String> postgres = new ArrayList<>(asUser);
      postgres.addAll(
          List.of(
              bin.resolve("postgres").toString(),
              "-D",
              data.toString(),
              "-k",
              dir.toString(),
              "-p",
              String.valueOf(port),
              "-h",
              extraAddress == null ? "127.0.0.1" : "127.0.0.1," + extraAddress,
              // A test server: durability across a power cut is not what is tested.
              "-c",
              "fsync=off",
              "-c",
              "max_connections=50"));
      server =
          new ProcessBuilder(postgres)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("postgres.log").toFile())
              .start();
      TestPostgres pg = new TestPostgres(dir, server, port);
      pg.awaitReady();
      return pg;
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      if (server != null) {
        stop(server);
      }
      deleteTree(dir);
      throw e;
    }
  }

  /** The newest {@code /usr/lib/postgresql/VERSION/bin} that has initdb and postgres; or null. */
  private static Path binDir() throws IOException {
    Path root = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(root)) {
      return null;
    }
    try (Stream<Path> versions = Files.list(root)) {
      return versions
          .map(v -> v.resolve("bin"))
          .filter(b -> Files.isExecutable(b.resolve("initdb")))
          .filter(b -> Files.isExecutable(b.resolve("postgres")))
          .max(
              Comparator.comparingInt(
                  b -> {
                    try {
                      return Integer.parseInt(b.getParent().getFileName().toString());
                    } catch (NumberFormatException e) {
                      return -1;
                    }
                  }))
          .orElse(null);
    }
  }

  private static void run(List<String> command, Path log) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(START_DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
      stop(p);
      throw new IOException(command.getFirst() + " did not finish: " + Files.readString(log));
    }
    if (p.exitValue() != 0) {
      throw new IOException(
          String.join(" ", command) + " exited " + p.exitValue() + ": " + Files.readString(log));
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private void awaitReady() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + START_DEADLINE.toNanos();
    SQLException last = null;
    while (System.nanoTime() < deadline) {
      if (!server.isAlive()) {
        throw new IOException("postgres exited " + server.exitValue() + ": " + log());
      }
      try (Connection c = connect("postgres")) {
        return;
      } catch (SQLException e) {
        last = e;
      }
      Thread.sleep(100);
    }
    throw new IOException(
        "postgres did not take connections within " + START_DEADLINE + ": " + last + "\n" + log());
  }

  /** The server's log, for failure messages. */
  public String log() {
    try {
      return Files.readString(dir.resolve("postgres.log"));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  public int port() {
    return port;
  }

  /** A connection to {@code database} as {@link #USER}. */
  public Connection connect(String database) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", USER);
    props.setProperty("password", PASSWORD);
    props.setProperty("connectTimeout", "5");
    return DriverManager.getConnection(
        "jdbc:postgresql://127.0.0.1:" + port + "/" + database, props);
  }

  /** Creates an empty database of a name of its own and returns its name. */
  public String createDatabase() throws SQLException {
    String name = "weft" + databases.incrementAndGet();
    try (Connection c = connect("postgres");
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    return name;
  }

  /** The journal's URL for {@code database} on {@code host}, as {@code --journal} takes it. */
  public String url(String host, String database) {
    return "postgresql://" + host + ":" + port + "/" + database + "?user=" + USER;
  }

  /** The journal's URL for {@code database}, as {@code --journal} takes it. */
  public String url(String database) {
    return "postgresql://127.0.0.1:" + port + "/" + database + "?user=" + USER;
  }

  /** Whether the server still runs (a test that stops it checks it came back). */
  public boolean isAlive() {
    return server.isAlive();
  }

  @Override
  public void close() throws InterruptedException {
    try {
      stop(server);
    } finally {
      deleteTree(dir);
    }
  }

  /** SIGTERM (PostgreSQL's smart shutdown), then SIGKILL past the deadline. */
  private static void stop(Process process) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(STOP_DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(STOP_DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }
  }

  private static void deleteTree(Path path) {
    try {
      if (Files.isDirectory(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(path)) {
          for (Path child : children) {
            deleteTree(child);
          }
        }
      }
      Files.deleteIfExists(path);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot delete " + path, e);
    }
  }
}
