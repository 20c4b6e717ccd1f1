package dev.weft.coordinator.security;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.LeaderElection;
import dev.weft.coordinator.PostgresTarget;
import dev.weft.coordinator.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The security files two coordinators of one PostgreSQL journal share through it. */
final class SharedSecurityFilesTest {
  @RegisterExtension static final TestPostgres.PerClass SERVER = new TestPostgres.PerClass();

  @TempDir Path work;
  private String database;
  private LeaderElection election;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void createJournal() throws Exception {
    database = SERVER.get().createDatabase();
    // Connecting migrates the journal's schema, shared_files included.
    election =
        LeaderElection.connect(
            new CoordinatorConfig()
                .dataDir(work.resolve("a"))
                .postgresJournal(
                    PostgresTarget.parse(SERVER.get().url(database)), TestPostgres.PASSWORD));
    open.add(election);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private SharedSecurityFiles shared(String name) throws Exception {
    SecurityFiles files = new SecurityFiles(work.resolve(name));
    files.create();
    SharedSecurityFiles shared =
        new SharedSecurityFiles(work.resolve(name), election::openConnection);
    open.add(shared);
    return shared;
  }

  private static void write(Path dataDir, String text) throws Exception {
    SecurityFiles files = new SecurityFiles(dataDir);
    files.create();
    files.write(files.clients(), text);
  }

  private static byte[] clients(Path dataDir) throws Exception {
    return Files.readAllBytes(new SecurityFiles(dataDir).clients());
  }

  @Test
  void theFirstSeedsTheOtherTakesAndAChangeReachesTheStandby() throws Exception {
    write(work.resolve("a"), "alice\n");
    SharedSecurityFiles a = shared("a");
    assertFalse(a.adopt(), "the first coordinator's files become the shared ones");
    SharedSecurityFiles b = shared("b");
    assertTrue(b.adopt(), "the second takes them");
    assertArrayEquals(clients(work.resolve("a")), clients(work.resolve("b")));

    write(work.resolve("a"), "alice\nbob\n");
    a.push();
    assertTrue(b.pull());
    assertArrayEquals("alice\nbob\n".getBytes(), clients(work.resolve("b")));
    assertFalse(b.pull(), "nothing new");
  }

  @Test
  void aChangeReachesAStandbyThatSawStampsFromAClockAhead() throws Exception {
    write(work.resolve("a"), "alice\n");
    SharedSecurityFiles a = shared("a");
    a.adopt();
    SharedSecurityFiles b = shared("b");
    b.adopt();
    // Rows stamped an hour ahead, as a host whose clock runs fast would have stamped them: the
    // standby has seen those stamps.
    try (Connection c = SERVER.get().connect(database);
        Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE weft.shared_files SET updated_ms = updated_ms + 3600000");
    }
    b.pull();

    write(work.resolve("a"), "alice\ncarol\n");
    a.push();
    assertTrue(b.pull(), "the change was stamped behind what the standby had seen");
    assertArrayEquals("alice\ncarol\n".getBytes(), clients(work.resolve("b")));
  }
}
