package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.util.JsonFormat;
import dev.weft.coordinator.security.Caller;
import dev.weft.coordinator.security.ClientTokens;
import dev.weft.kinds.JobKinds;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
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
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP port of a coordinator with TLS and tokens, over real loopback HTTP: metrics that move
 * with a job and pass {@code promtool check metrics}, and the JSON API behind the same door and
 * rules as gRPC.
 */
class HttpApiTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Pattern SAMPLE =
      Pattern.compile("(?m)^(weft_[a-z_]+(?:\\{[^}]*\\})?) (\\S+)$");
  private static final String SUM = "{\"sum\": {\"from\": 1, \"to\": 1000}, \"tasks\": 5}";

  @TempDir Path dir;
  private Coordinator coordinator;
  private ManagedChannel workerChannel;
  private TestWorker worker;
  // What the worker does with a task; a test may change it before it submits.
  private volatile Function<TaskAssignment, TaskResult> behaviour = JobServiceTest::run;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    coordinator =
        Coordinator.start(
            new CoordinatorConfig()
                .listen("127.0.0.1", 0)
                .dataDir(dir)
                .httpListen("127.0.0.1", 0, true));
    workerChannel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1",
                coordinator.port(),
                new ClientSecurity()
                    .token(coordinator.security().joinToken().orElseThrow())
                    .conclude()
                    .credentials())
            .build();
    worker =
        new TestWorker(
            workerChannel,
            "w1",
            2,
            List.copyOf(JobKinds.load().names()),
            task -> behaviour.apply(task));
    assertTrue(coordinator.awaitWorkers(1, WAIT), "the worker attached");
  }

  @AfterEach
  void stop() throws InterruptedException {
    worker.close();
    workerChannel.shutdownNow();
    workerChannel.awaitTermination(5, TimeUnit.SECONDS);
    coordinator.close();
  }

  private HttpResponse<String> get(String path, String token) throws Exception {
    return send(HttpRequest.newBuilder(uri(path)).GET(), token);
  }

  private HttpResponse<String> post(String path, String token, String body) throws Exception {
    return send(
        HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body)), token);
  }

  private HttpResponse<String> send(HttpRequest.Builder request, String token) throws Exception {
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + coordinator.httpPort() + path);
  }

  private String admin() throws IOException {
    return coordinator.security().adminToken().orElseThrow();
  }

  private static Map<String, Double> samples(String exposition) {
    Map<String, Double> samples = new HashMap<>();
    Matcher m = SAMPLE.matcher(exposition);
    while (m.find()) {
      samples.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return samples;
  }

  private Map<String, Double> scrape() throws Exception {
    HttpResponse<String> metrics = get("/metrics", null);
    assertEquals(200, metrics.statusCode(), metrics.body());
    return samples(metrics.body());
  }

  @Test
  void taskCountersMoveByTheJobsTaskCount() throws Exception {
    Map<String, Double> before = scrape();
    assertEquals(0.0, before.get("weft_tasks_submitted_total"));
    assertEquals(1.0, before.get("weft_workers{state=\"ready\",transport=\"grpc\"}"));
    assertEquals(2.0, before.get("weft_slots"));

    HttpResponse<String> submitted = post("/api/v1/jobs", admin(), SUM);
    assertEquals(201, submitted.statusCode(), submitted.body());
    Job.Builder job = Job.newBuilder();
    JsonFormat.parser().merge(submitted.body(), job);
    assertEquals("admin", job.getSpec().getOwner());
    assertEquals(
        "/api/v1/jobs/" + job.getId(), submitted.headers().firstValue("Location").orElseThrow());
    Await.until(() -> state(job.getId()) == JobState.SUCCEEDED, "the job to succeed", WAIT);

    Map<String, Double> after = scrape();
    for (String counter : List.of("submitted", "started", "succeeded")) {
      String name = "weft_tasks_" + counter + "_total";
      assertEquals(before.get(name) + 5, after.get(name), name);
    }
    for (String counter : List.of("failed", "retried", "cancelled", "preempted")) {
      String name = "weft_tasks_" + counter + "_total";
      assertEquals(before.get(name), after.get(name), name);
    }
    assertEquals(1.0, after.get("weft_jobs{state=\"succeeded\"}"));
    assertEquals(0.0, after.get("weft_tasks_running"));
    assertEquals(5.0, after.get("weft_task_duration_seconds_count{transport=\"grpc\"}"));
    for (String transport : List.of("grpc", "pipe", "shm")) {
      String name = "weft_link_round_trip_seconds_count{transport=\"" + transport + "\"}";
      assertTrue(after.containsKey(name), name + " is exposed before any round trip");
    }
    assertTrue(after.get("weft_journal_commit_seconds_count") >= 1, "the submission committed");
    assertTrue(after.containsKey("weft_journal_backlog"), "the journal's backlog");
    assertTrue(scrapeText().contains("\njvm_memory_used_bytes{"), "the JVM's metrics");
  }

  @Test
  void retriesAndFailuresAreCounted() throws Exception {
    // Every first attempt fails (not the task's own error, so it is retried while attempts last).
    behaviour =
        task ->
            task.getAttempt() == 1
                ? TaskResult.newBuilder()
                    .setAttemptId(task.getAttemptId())
                    .setError("first attempts fail here")
                    .build()
                : JobServiceTest.run(task);
    Map<String, Double> before = scrape();
    String twice =
        submitted("{\"sum\": {\"from\": 1, \"to\": 90}, \"tasks\": 3, \"max_attempts\": 2}");
    String once =
        submitted("{\"sum\": {\"from\": 1, \"to\": 20}, \"tasks\": 2, \"max_attempts\": 1}");
    Await.until(() -> state(twice) == JobState.SUCCEEDED, "the retried job to succeed", WAIT);
    Await.until(() -> state(once) == JobState.FAILED, "the other job to fail", WAIT);
    Map<String, Double> after = scrape();
    Map<String, Double> moved =
        Map.of("submitted", 5.0, "started", 8.0, "retried", 3.0, "succeeded", 3.0, "failed", 2.0);
    moved.forEach(
        (counter, by) -> {
          String name = "weft_tasks_" + counter + "_total";
          assertEquals(before.get(name) + by, after.get(name), name);
        });
    assertEquals(1.0, after.get("weft_jobs{state=\"failed\"}"));
  }

  private String submitted(String spec) throws Exception {
    HttpResponse<String> submitted = post("/api/v1/jobs", admin(), spec);
    assertEquals(201, submitted.statusCode(), submitted.body());
    Job.Builder job = Job.newBuilder();
    JsonFormat.parser().merge(submitted.body(), job);
    return job.getId();
  }

  private String scrapeText() throws Exception {
    return get("/metrics", null).body();
  }

  private JobState state(String id) {
    try {
      HttpResponse<String> got = get("/api/v1/jobs/" + id, admin());
      assertEquals(200, got.statusCode(), got.body());
      Job.Builder job = Job.newBuilder();
      JsonFormat.parser().merge(got.body(), job);
      return job.getState();
    } catch (Exception e) {
      throw new AssertionError("GET /api/v1/jobs/" + id + " failed", e);
    }
  }

  @Test
  void theExpositionPassesPromtool() throws Exception {
    Path promtool = Path.of("/usr/bin/promtool");
    assumeTrue(
        Files.isExecutable(promtool),
        "promtool (Debian package prometheus) is not installed; ./build test installs it");
    assertEquals(201, post("/api/v1/jobs", admin(), SUM).statusCode());
    Path exposition = dir.resolve("metrics.txt");
    Files.writeString(exposition, scrapeText());
    Process check =
        new ProcessBuilder(promtool.toString(), "check", "metrics")
            .redirectInput(exposition.toFile())
            .redirectErrorStream(true)
            .start();
    String output = new String(check.getInputStream().readAllBytes());
    assertTrue(check.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "promtool finished");
    assertEquals(0, check.exitValue(), "promtool check metrics: " + output);
  }

  @Test
  void metricsAndHealthNeedNoTokenAndTheApiDoes() throws Exception {
    assertEquals(200, get("/healthz", null).statusCode());
    HttpResponse<String> refused = get("/api/v1/jobs", null);
    assertEquals(401, refused.statusCode());
    assertTrue(refused.body().startsWith("{\"error\":\"no token"), refused.body());
    assertEquals("application/json", refused.headers().firstValue("Content-Type").orElseThrow());
    assertTrue(refused.headers().firstValue("WWW-Authenticate").isPresent());
    assertEquals(401, get("/api/v1/jobs", "weft1-wrong").statusCode());
  }

  @Test
  void aReadTokenLooksButDoesNotSubmit() throws Exception {
    String reader = ClientTokens.create(dir, "viewer", Caller.Role.READ, false);
    assertEquals(200, get("/api/v1/jobs", reader).statusCode());
    assertEquals(200, get("/api/v1/workers", reader).statusCode());
    HttpResponse<String> refused = post("/api/v1/jobs", reader, SUM);
    assertEquals(403, refused.statusCode(), refused.body());
    assertTrue(
        refused.body().contains("token 'viewer' has role read; SubmitJob needs submit"),
        refused.body());
  }

  @Test
  void theJoinTokenIsRefused() throws Exception {
    HttpResponse<String> refused =
        get("/api/v1/jobs", coordinator.security().joinToken().orElseThrow());
    assertEquals(403, refused.statusCode(), refused.body());
    assertTrue(refused.body().contains("join token cannot use JobService"), refused.body());
  }

  @Test
  void theSubmitRulesOfGrpcHold() throws Exception {
    String submitter = ClientTokens.create(dir, "ci", Caller.Role.SUBMIT, false);
    HttpResponse<String> exec =
        post("/api/v1/jobs", submitter, "{\"exec\": {\"command\": [\"true\"]}}");
    assertEquals(403, exec.statusCode(), exec.body());
    assertTrue(exec.body().contains("may not submit exec jobs"), exec.body());
    HttpResponse<String> theirs = post("/api/v1/jobs", submitter, SUM);
    assertEquals(201, theirs.statusCode(), theirs.body());
    Job.Builder job = Job.newBuilder();
    JsonFormat.parser().merge(theirs.body(), job);
    assertEquals("ci", job.getSpec().getOwner());
    HttpResponse<String> cancel =
        post("/api/v1/jobs/" + job.getId() + "/cancel", submitter, "{\"reason\": \"done\"}");
    assertEquals(200, cancel.statusCode(), cancel.body());
  }

  @Test
  void badRequestsGetJsonErrorsNamingTheProblem() throws Exception {
    HttpResponse<String> bad = post("/api/v1/jobs", admin(), "{\"sum\": {\"form\": 1}}");
    assertEquals(400, bad.statusCode(), bad.body());
    assertTrue(bad.body().contains("form"), bad.body());
    HttpResponse<String> broken = post("/api/v1/jobs", admin(), "{\"sum\": ");
    assertEquals(400, broken.statusCode(), broken.body());
    HttpResponse<String> empty = post("/api/v1/jobs", admin(), "");
    assertEquals(400, empty.statusCode(), empty.body());
    assertTrue(empty.body().contains("JobSpec"), empty.body());
    HttpResponse<String> invalid =
        post("/api/v1/jobs", admin(), "{\"sum\": {\"from\": 5, \"to\": 1}}");
    assertEquals(400, invalid.statusCode(), invalid.body());
    HttpResponse<String> state = get("/api/v1/jobs?state=done", admin());
    assertEquals(400, state.statusCode(), state.body());
    assertTrue(state.body().contains("state: one of waiting"), state.body());
    HttpResponse<String> limit = get("/api/v1/jobs?limit=lots", admin());
    assertEquals(400, limit.statusCode(), limit.body());
    HttpResponse<String> tooMany = get("/api/v1/jobs?limit=99999999", admin());
    assertEquals(400, tooMany.statusCode(), tooMany.body());
    assertTrue(tooMany.body().contains("limit: must be 0.."), tooMany.body());
    assertEquals(404, get("/api/v1/jobs/nosuchjob", admin()).statusCode());
    assertEquals(404, get("/api/v2/jobs", admin()).statusCode());
    HttpResponse<String> huge =
        post(
            "/api/v1/jobs", null, " ".repeat(new CoordinatorConfig().maxInboundMessageBytes() + 1));
    assertEquals(413, huge.statusCode(), huge.body());
    assertTrue(huge.body().contains("larger than 16777216 bytes"), huge.body());
    HttpResponse<String> method = post("/metrics", null, "");
    assertEquals(405, method.statusCode(), method.body());
    assertTrue(method.body().contains("use GET"), method.body());
  }

  @Test
  void clientsThatStopReadingCostOnlyThemselves() throws Exception {
    // A job whose full view is larger than what loopback's socket buffers hold.
    StringBuilder spec = new StringBuilder("{\"exec\": {\"command\": [\"true\"], \"inputs\": [");
    String input = "x".repeat(1000);
    for (int i = 0; i < 12_000; i++) {
      spec.append(i == 0 ? "" : ",").append('"').append(input).append('"');
    }
    String id = submitted(spec.append("]}}").toString());
    List<java.net.Socket> stalled = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < 8; i++) {
        java.net.Socket socket = new java.net.Socket("127.0.0.1", coordinator.httpPort());
        // Asks for the job and never reads the answer, as a stopped (SIGSTOP) client would not.
        socket
            .getOutputStream()
            .write(
                ("GET /api/v1/jobs/"
                        + id
                        + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                        + admin()
                        + "\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        stalled.add(socket);
      }
      for (int i = 0; i < 20; i++) {
        assertEquals(200, get("/healthz", null).statusCode());
        assertEquals(200, get("/api/v1/jobs?limit=1", admin()).statusCode());
        assertEquals(200, get("/api/v1/jobs/" + id + "?view=summary", admin()).statusCode());
      }
      assertEquals(200, scrapeStatus());
    } finally {
      for (java.net.Socket socket : stalled) {
        socket.close();
      }
    }
  }

  private int scrapeStatus() throws Exception {
    return get("/metrics", null).statusCode();
  }

  @Test
  void beyondLoopbackItServesHttpsWithTheCoordinatorsCertificate() throws Exception {
    try (Coordinator wide =
        Coordinator.start(
            new CoordinatorConfig()
                .listen("127.0.0.1", 0)
                .dataDir(dir.resolve("wide"))
                .httpListen("0.0.0.0", 0, true))) {
      assertTrue(wide.httpTls());
      javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
      tls.init(
          null,
          new javax.net.ssl.TrustManager[] {
            dev.weft.security.KeyMaterial.trustManager(
                dev.weft.security.Pem.readCertificates(dir.resolve("wide/security/ca.pem")))
          },
          null);
      HttpResponse<String> workers =
          HttpClient.newBuilder()
              .sslContext(tls)
              .build()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("https://127.0.0.1:" + wide.httpPort() + "/api/v1/workers"))
                      .header(
                          "Authorization", "Bearer " + wide.security().adminToken().orElseThrow())
                      .timeout(WAIT)
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertEquals(200, workers.statusCode(), workers.body());
    }
  }
}
