package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker's HTTP port ({@code --http-listen}) over real loopback HTTP: what it serves, what it
 * refuses, and the rule that keeps plain text on loopback.
 */
class WorkerHttpTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();

  /** A worker that tries to attach where nothing listens, serving HTTP on {@code port}. */
  private Worker start(int port) {
    return Worker.start(
        new WorkerConfig()
            .join("127.0.0.1:1")
            .id("metered")
            .slots(2)
            .logDir(dir.resolve("logs"))
            .httpListen("127.0.0.1", port, false));
  }

  private HttpResponse<String> send(int port, String method, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(WAIT)
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesMetricsAndHealthThatPassPromtool() throws Exception {
    Worker worker = start(0);
    try {
      int port = worker.httpPort();
      HttpResponse<String> metrics = send(port, "GET", "/metrics");
      assertEquals(200, metrics.statusCode(), metrics.body());
      String body = metrics.body();
      assertTrue(body.contains("\nweft_worker_slots 2.0\n"), body);
      assertTrue(body.contains("\nweft_worker_slots_busy 0.0\n"), body);
      assertTrue(body.contains("\nweft_worker_tasks_started_total{kind=\"sum\"} 0.0\n"), body);
      assertTrue(
          body.contains("\nweft_worker_link_round_trip_seconds_count{transport=\"shm\"} 0\n"),
          body);
      assertTrue(body.contains("\njvm_memory_used_bytes{"), "the JVM's metrics");
      passesPromtool(body);

      HttpResponse<String> health = send(port, "GET", "/healthz");
      assertEquals(200, health.statusCode(), health.body());
      assertEquals("{\"status\":\"SERVING\",\"transport\":\"\"}\n", health.body());

      HttpResponse<String> post = send(port, "POST", "/metrics");
      assertEquals(405, post.statusCode());
      assertEquals("POST is not allowed here; use GET\n", post.body());
      HttpResponse<String> unknown = send(port, "GET", "/api/v1/jobs");
      assertEquals(404, unknown.statusCode());
      assertEquals(
          "no such endpoint: /api/v1/jobs; there are GET /metrics, GET /healthz\n", unknown.body());
    } finally {
      worker.close();
    }
  }

  @Test
  void aPortThatCannotBeServedStopsTheWorkerSayingWhere() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      UncheckedIOException e =
          assertThrows(UncheckedIOException.class, () -> start(taken.getLocalPort()));
      assertTrue(
          e.getMessage()
              .startsWith("cannot serve HTTP on 127.0.0.1:" + taken.getLocalPort() + ": "),
          e.getMessage());
      assertTrue(e.getMessage().endsWith("--http-listen HOST:PORT, or off"), e.getMessage());
    }
  }

  @Test
  void plainTextBeyondLoopbackOnlyWhenMeant() {
    IllegalArgumentException refused =
        assertThrows(
            IllegalArgumentException.class,
            () -> new WorkerConfig().httpListen("0.0.0.0", 9100, false).conclude());
    assertTrue(
        refused.getMessage().startsWith("--http-listen 0.0.0.0:9100 is beyond loopback: "),
        refused.getMessage());
    WorkerConfig meant = new WorkerConfig().httpListen("0.0.0.0", 9100, true).conclude();
    assertEquals(9100, meant.httpPort());
    WorkerConfig loopback = new WorkerConfig().httpListen("::1", 0, false).conclude();
    assertTrue(loopback.httpAddress().isLoopbackAddress());
    assertEquals(-1, new WorkerConfig().conclude().httpPort(), "off by default");
    IllegalArgumentException port =
        assertThrows(
            IllegalArgumentException.class,
            () -> new WorkerConfig().httpListen("127.0.0.1", 70_000, false).conclude());
    assertEquals("HTTP port must be 0..65535, got 70000", port.getMessage());
  }

  private void passesPromtool(String exposition) throws Exception {
    Path promtool = Path.of("/usr/bin/promtool");
    assumeTrue(
        Files.isExecutable(promtool),
        "promtool (Debian package prometheus) is not installed; ./build test installs it");
    Path file = dir.resolve("metrics.txt");
    Files.writeString(file, exposition);
    Process check =
        new ProcessBuilder(promtool.toString(), "check", "metrics")
            .redirectInput(file.toFile())
            .redirectErrorStream(true)
            .start();
    String output = new String(check.getInputStream().readAllBytes());
    assertTrue(check.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "promtool finished");
    assertEquals(0, check.exitValue(), "promtool check metrics: " + output);
  }
}
