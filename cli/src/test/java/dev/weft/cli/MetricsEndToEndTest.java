package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics of real processes on loopback: a coordinator and two workers serving their own {@code
 * /metrics} ({@code --http-listen}), one on shared memory and one on gRPC. Task counters move by a
 * job's task count, links are timed on both ends, and every exposition passes {@code promtool check
 * metrics}.
 */
final class MetricsEndToEndTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Pattern SAMPLE =
      Pattern.compile("(?m)^((?:weft|jvm)_[a-z_]+(?:\\{[^}]*\\})?) (\\S+)$");
  private static final int TASKS = 8;

  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();
  private ProcessCluster cluster;
  private URI coordinator;
  private URI shmWorker;
  private URI grpcWorker;

  @BeforeEach
  void start() throws Exception {
    cluster = new ProcessCluster();
    cluster.startCoordinator(0);
    cluster.startWorker("w1", 2, "--transport", "shm", "--http-listen", "127.0.0.1:0");
    cluster.startWorker("w2", 2, "--transport", "grpc", "--http-listen", "127.0.0.1:0");
    cluster.awaitWorkers(2);
    coordinator = base(cluster.httpPort("coordinator"));
    shmWorker = base(cluster.httpPort("w1"));
    grpcWorker = base(cluster.httpPort("w2"));
    Await.until(
        "w1 to move to shared memory",
        WAIT,
        () ->
            cluster.workers().stream()
                .anyMatch(w -> w.getId().equals("w1") && w.getTransport().equals("shm")),
        cluster::logTails);
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  private static URI base(int port) {
    return URI.create("http://127.0.0.1:" + port);
  }

  private HttpResponse<String> get(URI base, String path) {
    try {
      return http.send(
          HttpRequest.newBuilder(base.resolve(path)).timeout(WAIT).GET().build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new AssertionError("GET " + base.resolve(path) + " failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted during GET " + base.resolve(path), e);
    }
  }

  private String exposition(URI base) {
    HttpResponse<String> metrics = get(base, "/metrics");
    assertEquals(200, metrics.statusCode(), metrics.body());
    return metrics.body();
  }

  private Map<String, Double> scrape(URI base) {
    Map<String, Double> samples = new HashMap<>();
    Matcher m = SAMPLE.matcher(exposition(base));
    while (m.find()) {
      samples.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return samples;
  }

  private static double moved(Map<String, Double> before, Map<String, Double> after, String name) {
    assertTrue(after.containsKey(name), () -> name + " is exposed: " + after.keySet());
    return after.get(name) - before.getOrDefault(name, 0.0);
  }

  @Test
  void workerCountersMoveByTheJobsTaskCount() throws Exception {
    Map<String, Double> coordinatorBefore = scrape(coordinator);
    List<Map<String, Double>> before = List.of(scrape(shmWorker), scrape(grpcWorker));
    assertEquals(2.0, before.get(0).get("weft_worker_slots"));
    assertEquals(0.0, before.get(0).get("weft_worker_tasks_started_total{kind=\"sum\"}"));

    CliResult r =
        cluster.client(
            "submit", "sum", "--from", "1", "--to", "1000000", "--tasks", "" + TASKS, "--wait");
    assertExit(0, r);

    List<Map<String, Double>> after = List.of(scrape(shmWorker), scrape(grpcWorker));
    for (String name :
        List.of(
            "weft_worker_tasks_started_total{kind=\"sum\"}",
            "weft_worker_tasks_succeeded_total{kind=\"sum\"}",
            "weft_worker_task_run_seconds_count{kind=\"sum\"}")) {
      double total = 0;
      for (int w = 0; w < 2; w++) {
        total += moved(before.get(w), after.get(w), name);
      }
      assertEquals(TASKS, total, name + " over both workers");
    }
    for (int w = 0; w < 2; w++) {
      assertEquals(
          0.0, moved(before.get(w), after.get(w), "weft_worker_tasks_failed_total{kind=\"sum\"}"));
      assertEquals(0.0, after.get(w).get("weft_worker_slots_busy"));
    }
    Map<String, Double> coordinatorAfter = scrape(coordinator);
    assertEquals(TASKS, moved(coordinatorBefore, coordinatorAfter, "weft_tasks_succeeded_total"));
    assertTrue(
        coordinatorAfter.get("weft_journal_commit_seconds_count") > 0, "the journal committed");
    Await.until(
        "the journal to commit what the job left",
        WAIT,
        () -> scrape(coordinator).get("weft_journal_backlog") == 0.0);

    HttpResponse<String> health = get(shmWorker, "/healthz");
    assertEquals(200, health.statusCode(), health.body());
    assertTrue(health.body().contains("\"transport\":\"shm\""), health.body());
    passesPromtool(exposition(shmWorker));
  }

  @Test
  void linksAreTimedOnBothEndsByTransport() throws Exception {
    String shm = "weft_link_round_trip_seconds_count{transport=\"shm\"}";
    String grpc = "weft_link_round_trip_seconds_count{transport=\"grpc\"}";
    String workerShm = "weft_worker_link_round_trip_seconds_count{transport=\"shm\"}";
    String workerGrpc = "weft_worker_link_round_trip_seconds_count{transport=\"grpc\"}";
    // Heartbeats come every 500 ms here; a worker times its second beat's echo.
    Await.until(
        "both ends of both links to time a round trip",
        WAIT,
        () ->
            scrape(coordinator).get(shm) >= 1
                && scrape(coordinator).get(grpc) >= 1
                && scrape(shmWorker).get(workerShm) >= 1
                && scrape(grpcWorker).get(workerGrpc) >= 1,
        () -> exposition(coordinator) + cluster.logTails());
    Map<String, Double> ofCoordinator = scrape(coordinator);
    assertMeanIsASecondOrLess(ofCoordinator, shm);
    assertMeanIsASecondOrLess(ofCoordinator, grpc);
    assertMeanIsASecondOrLess(scrape(shmWorker), workerShm);
    assertMeanIsASecondOrLess(scrape(grpcWorker), workerGrpc);
    passesPromtool(exposition(coordinator));
    passesPromtool(exposition(grpcWorker));
  }

  /** Seconds, not nanoseconds: a loopback round trip takes well under a second. */
  private static void assertMeanIsASecondOrLess(Map<String, Double> samples, String count) {
    String sum = count.replace("_count{", "_sum{");
    double mean = samples.get(sum) / samples.get(count);
    assertTrue(mean > 0 && mean < 1, sum + " / " + count + " = " + mean);
  }

  private void passesPromtool(String exposition) throws Exception {
    Path promtool = Path.of("/usr/bin/promtool");
    assumeTrue(
        Files.isExecutable(promtool),
        "promtool (Debian package prometheus) is not installed; ./build test installs it");
    Path file = Files.createTempFile(dir, "metrics-", ".txt");
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
