package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static dev.weft.cli.ProcessCluster.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.v1.ExecParams;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.wire.Address;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code weft jobs}: summaries by default, whole jobs with --full, and --json says which. */
final class JobsCommandTest {
  private Coordinator coordinator;
  private CoordinatorClient client;
  private String address;

  @org.junit.jupiter.api.io.TempDir java.nio.file.Path dataDir;

  @BeforeEach
  void start() throws Exception {
    // Secure on loopback, as `weft coordinator` is: the `weft jobs` runs below find its admin
    // token through this user's registry, with no --token.
    coordinator =
        Coordinator.start(new CoordinatorConfig().listen("127.0.0.1", 0).dataDir(dataDir));
    address = "127.0.0.1:" + coordinator.port();
    client =
        new CoordinatorClient(
            new Address("127.0.0.1", coordinator.port()),
            new dev.weft.security.ClientSecurity()
                .token(coordinator.security().adminToken().orElseThrow())
                .conclude());
  }

  @AfterEach
  void stop() {
    client.close();
    coordinator.close();
  }

  @Test
  void listsSummariesUnlessAskedForWholeJobs() {
    // No worker: it stays queued, with its inputs in its spec.
    Job job =
        client.submit(
            JobSpec.newBuilder()
                .setName("three inputs")
                .setExec(
                    ExecParams.newBuilder()
                        .addCommand("echo")
                        .addAllInputs(List.of("a", "b", "c"))
                        .putEnv("TOKEN", "secret"))
                .build());

    CliResult summaries = cli("jobs", "--coordinator", address, "--json");
    assertExit(0, summaries);
    assertTrue(summaries.lastLine().contains("\"view\":\"JOB_VIEW_SUMMARY\""), summaries::out);
    Job summary = summaries.jobs().getFirst();
    assertEquals(job.getId(), summary.getId());
    assertEquals("three inputs", summary.getSpec().getName());
    assertEquals(0, summary.getSpec().getExec().getInputsCount());
    assertEquals("", summary.getSpec().getExec().getEnvOrThrow("TOKEN"));

    CliResult full = cli("jobs", "--coordinator", address, "--full", "--json");
    assertExit(0, full);
    assertTrue(full.lastLine().contains("\"view\":\"JOB_VIEW_FULL\""), full::out);
    assertEquals(job.getSpec(), full.jobs().getFirst().getSpec());

    CliResult table = cli("jobs", "--coordinator", address);
    assertExit(0, table);
    assertTrue(
        table.out().contains(job.getId()) && table.out().contains("three inputs"), table::out);

    CliResult tooMany = cli("jobs", "--coordinator", address, "--full", "--limit", "1001");
    assertExit(2, tooMany);
    assertTrue(tooMany.err().contains("--limit must be 1..1000 with --full"), tooMany::toString);
  }
}
