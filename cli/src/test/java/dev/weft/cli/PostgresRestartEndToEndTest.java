package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator on a PostgreSQL journal ({@code --journal postgresql://...}, its password from
 * WEFT_JOURNAL_PASSWORD), SIGKILLed mid-job and started again on the same database: the job's
 * result is exact and no task recorded before the kill runs again (see {@link
 * RestartEndToEndTest#killMidJobAndResume}). And the password rules, seen from the command line.
 */
final class PostgresRestartEndToEndTest {
  @RegisterExtension static final TestPostgres.PerClass SERVER = new TestPostgres.PerClass();

  @TempDir private Path work;
  private ProcessCluster cluster;
  private String url;

  @BeforeEach
  void createCluster() throws Exception {
    url = SERVER.get().url(SERVER.get().createDatabase());
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stopCluster() throws Exception {
    cluster.close();
  }

  @Test
  void aKilledCoordinatorOnPostgresResumesItsJobWithoutRunningRecordedTasksAgain()
      throws Exception {
    RestartEndToEndTest.killMidJobAndResume(
        cluster, work, Map.of(JournalOption.PASSWORD_ENV, TestPostgres.PASSWORD), "--journal", url);
  }

  @Test
  void aPasswordFileOthersCanReadIsRefusedAndAPrivateOneIsUsed() throws Exception {
    Path file = work.resolve("journal-password");
    Files.writeString(file, TestPostgres.PASSWORD + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    CliResult refused =
        cluster.cliProcess(
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            cluster.dataDir().toString(),
            "--journal",
            url,
            "--journal-password-file",
            file.toString());
    assertExit(2, refused);
    assertTrue(
        refused
            .err()
            .contains(
                "--journal-password-file "
                    + file
                    + " can be read by others (mode rw-r--r--); make it private to its owner:"
                    + " chmod 600 "
                    + file),
        refused::toString);

    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    cluster.startCoordinator(0, "--journal", url, "--journal-password-file", file.toString());
    cluster.startWorker("w1", 2);
    cluster.awaitWorkers(1);
    CliResult sum =
        cluster.client(
            "submit", "sum", "--from", "1", "--to", "1000", "--tasks", "4", "--wait", "--json");
    assertExit(0, sum);
    assertTrue(sum.out().contains("500500"), sum::toString);
  }

  @Test
  void aUrlWithAPasswordIsRefusedSayingWhy() throws Exception {
    CliResult refused =
        cluster.cliProcess(
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            cluster.dataDir().toString(),
            "--journal",
            "postgresql://weft:secret@127.0.0.1:5432/weft");
    assertExit(2, refused);
    assertTrue(
        refused.err().contains("the URL must not carry a user or password before the host"),
        refused::toString);
  }
}
