package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import dev.weft.coordinator.security.Caller;
import dev.weft.coordinator.security.ClientTokens;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.CreateDashboardLoginRequest;
import dev.weft.v1.DashboardLogin;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Logging in to the dashboard over real loopback HTTP, as a browser would and as someone who has
 * only part of a session would: the pages and the API refuse without the whole session, and a
 * session may do what its token may, for as long as the token stands.
 */
class DashboardLoginTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Pattern COOKIE = Pattern.compile("weft_session=([A-Za-z0-9_-]+);");
  private static final Pattern KEY = Pattern.compile("\"weft-key\", \"([A-Za-z0-9_-]+)\"");
  private static final String SUM = "{\"sum\": {\"from\": 1, \"to\": 1000}, \"tasks\": 5}";

  @TempDir Path dir;
  private Coordinator coordinator;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  /** A browser's session: the cookie it keeps and the key its page keeps. */
  private record Session(String cookie, String key) {}

  @BeforeEach
  void start() throws Exception {
    coordinator =
        Coordinator.start(
            new CoordinatorConfig()
                .listen("127.0.0.1", 0)
                .dataDir(dir)
                .httpListen("127.0.0.1", 0, true));
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    coordinator.close();
  }

  private DashboardLogin loginFor(String token) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1",
                coordinator.port(),
                new ClientSecurity().token(token).conclude().credentials())
            .build();
    channels.add(channel);
    return JobServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(WAIT.toMillis(), TimeUnit.MILLISECONDS)
        .createDashboardLogin(CreateDashboardLoginRequest.getDefaultInstance());
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(request.timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + coordinator.httpPort() + path));
  }

  private HttpRequest.Builder as(Session session, String path) {
    return request(path)
        .header("Cookie", "weft_session=" + session.cookie())
        .header("X-Weft-Key", session.key());
  }

  private Session open(DashboardLogin login) throws Exception {
    HttpResponse<String> page = send(request(login.getPath()));
    assertEquals(200, page.statusCode(), page.body());
    String setCookie = page.headers().firstValue("Set-Cookie").orElseThrow();
    assertTrue(setCookie.contains("HttpOnly"), setCookie);
    assertTrue(setCookie.contains("SameSite=Strict"), setCookie);
    assertEquals("no-store", page.headers().firstValue("Cache-Control").orElseThrow());
    Matcher cookie = COOKIE.matcher(setCookie);
    Matcher key = KEY.matcher(page.body());
    assertTrue(cookie.find(), setCookie);
    assertTrue(key.find(), page.body());
    return new Session(cookie.group(1), key.group(1));
  }

  private String admin() throws Exception {
    return coordinator.security().adminToken().orElseThrow();
  }

  private String submit(String token) throws Exception {
    HttpResponse<String> submitted =
        send(
            request("/api/v1/jobs")
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(SUM)));
    assertEquals(201, submitted.statusCode(), submitted.body());
    Job.Builder job = Job.newBuilder();
    JsonFormat.parser().merge(submitted.body(), job);
    return job.getId();
  }

  @Test
  void theLoginUrlWorksOnceAndPointsAtThisPort() throws Exception {
    DashboardLogin login = loginFor(admin());
    assertEquals("127.0.0.1", login.getHttpHost());
    assertEquals(coordinator.httpPort(), login.getHttpPort());
    assertTrue(login.getPath().startsWith("/login?code="), login.getPath());
    assertEquals(60, login.getExpiresIn().getSeconds());

    Session session = open(login);
    HttpResponse<String> again = send(request(login.getPath()));
    assertEquals(401, again.statusCode());
    assertTrue(again.body().contains("does not work"), again.body());
    assertTrue(again.headers().firstValue("Set-Cookie").isEmpty());
    assertEquals(401, send(request("/login?code=guessed")).statusCode());

    HttpResponse<String> page = send(as(session, "/"));
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("/ui/app.js"));
    String policy = page.headers().firstValue("Content-Security-Policy").orElseThrow();
    assertTrue(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assertEquals(200, send(as(session, "/ui/app.js")).statusCode());
    HttpResponse<String> who = send(as(session, "/api/v1/session"));
    assertEquals("{\"name\":\"admin\",\"role\":\"admin\",\"exec\":true}\n", who.body());
  }

  @Test
  void withoutTheWholeSessionEverythingIsRefused() throws Exception {
    Session session = open(loginFor(admin()));
    for (String path : List.of("/", "/ui/app.js", "/ui/style.css")) {
      HttpResponse<String> refused = send(request(path));
      assertEquals(401, refused.statusCode(), path);
      assertTrue(refused.body().contains("weft dashboard"), refused.body());
    }
    // The cookie alone is what a server on another port of this host would receive.
    HttpResponse<String> cookieOnly =
        send(request("/api/v1/jobs").header("Cookie", "weft_session=" + session.cookie()));
    assertEquals(401, cookieOnly.statusCode());
    assertTrue(cookieOnly.body().contains("X-Weft-Key"), cookieOnly.body());
    HttpResponse<String> wrongKey =
        send(
            request("/api/v1/jobs")
                .header("Cookie", "weft_session=" + session.cookie())
                .header("X-Weft-Key", session.cookie()));
    assertEquals(401, wrongKey.statusCode());
    assertTrue(wrongKey.body().contains("session ended"), wrongKey.body());
    assertEquals(
        401, send(request("/api/v1/session").header("X-Weft-Key", session.key())).statusCode());
    assertEquals(200, send(as(session, "/api/v1/jobs")).statusCode());
  }

  @Test
  void aSessionMayDoWhatItsTokenMay() throws Exception {
    String adminJob = submit(admin());
    String reader = ClientTokens.create(dir, "viewer", Caller.Role.READ, false);
    Session viewer = open(loginFor(reader));
    assertEquals(200, send(as(viewer, "/api/v1/jobs/" + adminJob + "?view=summary")).statusCode());
    HttpResponse<String> cancel =
        send(
            as(viewer, "/api/v1/jobs/" + adminJob + "/cancel")
                .POST(HttpRequest.BodyPublishers.noBody()));
    assertEquals(403, cancel.statusCode(), cancel.body());
    assertTrue(cancel.body().contains("token 'viewer' has role read"), cancel.body());

    String submitter = ClientTokens.create(dir, "ci", Caller.Role.SUBMIT, false);
    Session ci = open(loginFor(submitter));
    HttpResponse<String> notTheirs =
        send(
            as(ci, "/api/v1/jobs/" + adminJob + "/cancel")
                .POST(HttpRequest.BodyPublishers.noBody()));
    assertEquals(403, notTheirs.statusCode(), notTheirs.body());
    HttpResponse<String> submitted =
        send(as(ci, "/api/v1/jobs").POST(HttpRequest.BodyPublishers.ofString(SUM)));
    assertEquals(201, submitted.statusCode(), submitted.body());
    assertTrue(submitted.body().contains("\"owner\":\"ci\""), submitted.body());
  }

  @Test
  void revokingTheTokenEndsItsSessionsAndCodes() throws Exception {
    String submitter = ClientTokens.create(dir, "ci", Caller.Role.SUBMIT, false);
    Session session = open(loginFor(submitter));
    DashboardLogin unused = loginFor(submitter);
    assertEquals(200, send(as(session, "/api/v1/jobs")).statusCode());
    ClientTokens.revoke(dir, "ci");
    Await.until(
        () -> {
          try {
            return send(as(session, "/api/v1/jobs")).statusCode() == 401;
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        },
        "the revoked token's session to end",
        WAIT);
    // A code taken before the revocation opens a session that cannot do anything.
    Session late = open(unused);
    assertEquals(401, send(as(late, "/api/v1/jobs")).statusCode());
  }

  @Test
  void logoutEndsTheSession() throws Exception {
    Session session = open(loginFor(admin()));
    HttpResponse<String> out =
        send(as(session, "/logout").POST(HttpRequest.BodyPublishers.noBody()));
    assertEquals(200, out.statusCode(), out.body());
    assertTrue(out.headers().firstValue("Set-Cookie").orElseThrow().contains("Max-Age=0"));
    assertEquals(401, send(as(session, "/api/v1/jobs")).statusCode());
    assertEquals(401, send(as(session, "/")).statusCode());
  }

  @Test
  void theSummaryViewLeavesOutTheInputs() throws Exception {
    Session session = open(loginFor(admin()));
    HttpResponse<String> submitted =
        send(
            as(session, "/api/v1/jobs")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"exec\": {\"command\": [\"echo\"], \"inputs\": [\"secret-input\"]}}")));
    assertEquals(201, submitted.statusCode(), submitted.body());
    Job.Builder job = Job.newBuilder();
    JsonFormat.parser().merge(submitted.body(), job);
    String full = send(as(session, "/api/v1/jobs/" + job.getId())).body();
    String summary = send(as(session, "/api/v1/jobs/" + job.getId() + "?view=summary")).body();
    assertTrue(full.contains("secret-input"), full);
    assertTrue(!summary.contains("secret-input") && summary.contains(job.getId()), summary);
    HttpResponse<String> bad = send(as(session, "/api/v1/jobs/" + job.getId() + "?view=all"));
    assertEquals(400, bad.statusCode());
    assertTrue(bad.body().contains("view=summary or view=full"), bad.body());
  }

  @Test
  void withoutAnHttpPortThereIsNoLogin() throws Exception {
    try (Coordinator quiet =
        Coordinator.start(
            new CoordinatorConfig().listen("127.0.0.1", 0).dataDir(dir.resolve("quiet")))) {
      ManagedChannel channel =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1",
                  quiet.port(),
                  new ClientSecurity()
                      .token(quiet.security().adminToken().orElseThrow())
                      .conclude()
                      .credentials())
              .build();
      channels.add(channel);
      StatusRuntimeException refused =
          assertThrows(
              StatusRuntimeException.class,
              () ->
                  JobServiceGrpc.newBlockingStub(channel)
                      .createDashboardLogin(CreateDashboardLoginRequest.getDefaultInstance()));
      assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
      assertNotNull(refused.getStatus().getDescription());
      assertTrue(refused.getStatus().getDescription().contains("--http-listen"));
    }
  }

  @Test
  void onLoopbackOnlyLoopbackNamesAreAnswered() throws Exception {
    // A page of evil.example that rebinds its name to 127.0.0.1 sends this Host header.
    assertTrue(rawGet("evil.example:" + coordinator.httpPort()).startsWith("HTTP/1.1 421 "));
    for (String host :
        List.of("127.0.0.1:" + coordinator.httpPort(), "localhost", "[::1]:80", "LOCALHOST")) {
      assertTrue(rawGet(host).startsWith("HTTP/1.1 200 "), host);
    }
  }

  private String rawGet(String host) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", coordinator.httpPort())) {
      socket.setSoTimeout((int) WAIT.toMillis());
      socket
          .getOutputStream()
          .write(
              ("GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      return new String(
          socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
    }
  }

  @Test
  void theJoinTokenGetsNoLogin() throws Exception {
    StatusRuntimeException refused =
        assertThrows(
            StatusRuntimeException.class,
            () -> loginFor(coordinator.security().joinToken().orElseThrow()));
    assertEquals(Status.Code.PERMISSION_DENIED, refused.getStatus().getCode());
  }
}
