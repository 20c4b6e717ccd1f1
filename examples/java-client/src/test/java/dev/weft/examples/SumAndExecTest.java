package dev.weft.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.client.Credentials;
import dev.weft.client.WeftClient;
import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.JoinTokenFiles;
import dev.weft.security.ClientSecurity;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the example against a real coordinator (TLS, tokens, its journal on disk) and a real worker,
 * both in this JVM; the client finds the coordinator as a user's program would, through this user's
 * registry, with no token given.
 */
final class SumAndExecTest {
  @TempDir Path dataDir;

  @Test
  void theExamplePrintsBothResults() throws Exception {
    try (Coordinator coordinator =
        Coordinator.start(new CoordinatorConfig().listen("127.0.0.1", 0).dataDir(dataDir))) {
      String join = JoinTokenFiles.show(dataDir).token().orElseThrow();
      try (Worker worker =
          Worker.start(
              new WorkerConfig()
                  .join("127.0.0.1:" + coordinator.port())
                  .id("example-worker")
                  .slots(4)
                  .logDir(dataDir.resolve("worker-logs"))
                  .security(new ClientSecurity().token(join))
                  .conclude())) {
        assertTrue(coordinator.awaitWorkers(1, Duration.ofSeconds(30)), "the worker attached");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();

        try (WeftClient weft =
            WeftClient.connect("127.0.0.1:" + coordinator.port(), Credentials.localUser())) {
          SumAndExec.run(weft, new PrintStream(printed, true, StandardCharsets.UTF_8));
        }

        List<String> lines = printed.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(5, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(0).startsWith("submitted "), lines.get(0));
        assertEquals("sum of 1..1000000000 = 500000000500000000", lines.get(1));
        assertEquals(
            List.of(
                "task alpha: hello from alpha",
                "task beta: hello from beta",
                "task gamma: hello from gamma"),
            lines.subList(2, 5).stream().sorted().toList());
      }
    }
  }
}
