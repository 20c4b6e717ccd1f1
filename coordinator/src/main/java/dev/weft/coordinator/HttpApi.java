package dev.weft.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.weft.coordinator.security.Caller;
import dev.weft.coordinator.security.DashboardSessions;
import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.security.AuthMetadata;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.SubmitJobRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;

/**
 * The coordinator's HTTP port: {@code /metrics} (Prometheus) and {@code /healthz} for anyone, and a
 * JSON API over JobService for callers with a client token.
 *
 * <p>The API holds no rules of its own: each request becomes a JobService call over an in-process
 * channel, carrying the caller's {@code Authorization} header, so the same door ({@code
 * AuthInterceptor}: tokens, roles, the join token refused) and the same checks ({@link
 * JobEndpoint}: limits, the exec grant, the highest priority a submitter may ask) decide, and their
 * statuses become HTTP status codes with the description as a JSON error. Requests are served on
 * virtual threads, at most {@link #MAX_IN_FLIGHT} at once; they wait on the call (or, for metrics,
 * on the conductor's answer) with a deadline, never on the conductor's thread.
 */
final class HttpApi implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(HttpApi.class.getName());
  static final int MAX_IN_FLIGHT = 64;
  // Jobs submitted at once: each may hold a body of up to the largest message gRPC accepts.
  static final int MAX_SUBMITS_IN_FLIGHT = 4;
  static final int MAX_CANCEL_BODY_BYTES = 64 * 1024;
  static final long CALL_TIMEOUT_MS = 10_000;
  private static final String JOBS = "/api/v1/jobs";
  private static final String WORKERS = "/api/v1/workers";
  private static final String SESSION = "/api/v1/session";
  static final String LOGIN = "/login";
  private static final String LOGOUT = "/logout";
  private static final String ENDPOINTS =
      "GET /metrics, GET /healthz, GET /api/v1/jobs[?state=S&limit=N],"
          + " GET /api/v1/jobs/ID[?view=summary], POST /api/v1/jobs, POST /api/v1/jobs/ID/cancel,"
          + " GET /api/v1/workers, and the dashboard at / (log in with `weft dashboard`)";
  static final String COOKIE = "weft_session";
  static final String KEY_HEADER = "X-Weft-Key";
  private static final String JSON = "application/json";
  // A request's headers and body must arrive within this, and a response must be taken within
  // this, or the connection is closed: a client that stops reading holds a request slot only so
  // long.
  static final long MAX_REQUEST_SECONDS = 60;
  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer()
          .preservingProtoFieldNames()
          .omittingInsignificantWhitespace()
          .alwaysPrintFieldsWithNoPresence();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  private final HttpServer server;
  private final ExecutorService executor;
  private final Server inProcess;
  private final ManagedChannel channel;
  private final CoordinatorMetrics metrics;
  private final ExpositionFormats formats = ExpositionFormats.init();
  private final BooleanSupplier serving;
  private final int maxBodyBytes;
  private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
  private final Semaphore submits = new Semaphore(MAX_SUBMITS_IN_FLIGHT);
  private final DashboardSessions sessions;
  private final DashboardPages pages = DashboardPages.load();
  private final String listenHost;
  private final boolean loopback;

  private HttpApi(
      HttpServer server,
      ExecutorService executor,
      Server inProcess,
      ManagedChannel channel,
      DashboardSessions sessions,
      CoordinatorMetrics metrics,
      BooleanSupplier serving,
      int maxBodyBytes,
      String listenHost,
      boolean loopback) {
    this.server = server;
    this.sessions = sessions;
    this.listenHost = listenHost;
    this.loopback = loopback;
    this.executor = executor;
    this.inProcess = inProcess;
    this.channel = channel;
    this.metrics = metrics;
    this.serving = serving;
    this.maxBodyBytes = maxBodyBytes;
  }

  /**
   * Serves on {@code address}: HTTPS with the coordinator's certificate unless the address is
   * loopback or the coordinator is in plain text. {@code jobService} is bound behind {@code
   * security}'s door on a private in-process server.
   */
  static HttpApi start(
      InetSocketAddress address,
      boolean loopback,
      ServerSecurity security,
      ServerServiceDefinition jobService,
      DashboardSessions sessions,
      CoordinatorMetrics metrics,
      BooleanSupplier serving,
      int maxBodyBytes)
      throws IOException {
    SSLContext tls = null;
    if (!loopback) {
      try {
        tls = security.httpsContext().orElse(null);
      } catch (GeneralSecurityException e) {
        throw new IOException("cannot set up TLS for HTTP: " + e.getMessage(), e);
      }
    }
    String name = InProcessServerBuilder.generateName();
    InProcessServerBuilder builder = InProcessServerBuilder.forName(name).directExecutor();
    security.interceptForHttp(builder, sessions);
    Server inProcess = builder.addService(jobService).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    ExecutorService executor =
        Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("weft-http-", 0).factory());
    // The JDK's server leaves Nagle's algorithm on, so a keep-alive client waits on delayed ACKs
    // between a response's header and body writes (a scrape took ten times as long), and lets a
    // request take forever to arrive. Both are read once, when the first server is made, and
    // left alone when the user set them.
    System.getProperties().putIfAbsent("sun.net.httpserver.nodelay", "true");
    System.getProperties()
        .putIfAbsent("sun.net.httpserver.maxReqTime", Long.toString(MAX_REQUEST_SECONDS));
    System.getProperties()
        .putIfAbsent("sun.net.httpserver.maxRspTime", Long.toString(MAX_REQUEST_SECONDS));
    HttpServer server;
    try {
      if (tls == null) {
        server = HttpServer.create(address, 0);
      } else {
        HttpsServer https = HttpsServer.create(address, 0);
        https.setHttpsConfigurator(new HttpsConfigurator(tls));
        server = https;
      }
    } catch (IOException e) {
      channel.shutdownNow();
      inProcess.shutdownNow();
      executor.shutdownNow();
      throw e;
    }
    String listenHost = address.getAddress().isAnyLocalAddress() ? "" : address.getHostString();
    HttpApi api =
        new HttpApi(
            server,
            executor,
            inProcess,
            channel,
            sessions,
            metrics,
            serving,
            maxBodyBytes,
            listenHost,
            loopback);
    server.createContext("/", api::handle);
    server.setExecutor(executor);
    server.start();
    return api;
  }

  int port() {
    return server.getAddress().getPort();
  }

  boolean tls() {
    return server instanceof HttpsServer;
  }

  /** The address the port listens on; empty when it listens on every address. */
  String listenHost() {
    return listenHost;
  }

  @Override
  public void close() {
    server.stop(0);
    channel.shutdownNow();
    inProcess.shutdownNow();
    executor.shutdownNow();
  }

  /** A request refused before or after its call: an HTTP status and what was wrong. */
  private static final class Refusal extends Exception {
    final int status;

    Refusal(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!inFlight.tryAcquire()) {
        error(
            exchange,
            503,
            "the coordinator serves at most " + MAX_IN_FLIGHT + " HTTP requests at once; retry");
        return;
      }
      try {
        checkHost(exchange);
        route(exchange);
      } catch (Refusal e) {
        error(exchange, e.status, e.getMessage());
      } catch (StatusRuntimeException e) {
        error(exchange, httpStatus(e.getStatus().getCode()), describe(e.getStatus()));
      } catch (CoordinatorMetrics.Unanswered e) {
        error(exchange, 503, e.getMessage());
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, "an HTTP request failed", e);
        error(exchange, 500, "the coordinator failed to answer: " + e);
      } finally {
        inFlight.release();
      }
    }
  }

  /**
   * On loopback, only requests addressed to a loopback name: a web page whose own host name an
   * attacker points at 127.0.0.1 (DNS rebinding) would otherwise reach this port as its own origin,
   * which matters most for a coordinator in plain text, where calls need no token.
   */
  private void checkHost(HttpExchange exchange) throws Refusal {
    if (!loopback) {
      return;
    }
    String host = exchange.getRequestHeaders().getFirst("Host");
    if (host == null) {
      return;
    }
    String name = host;
    if (name.startsWith("[")) {
      int close = name.indexOf(']');
      name = close < 0 ? name : name.substring(1, close);
    } else if (name.indexOf(':') >= 0) {
      name = name.substring(0, name.lastIndexOf(':'));
    }
    name = name.toLowerCase(Locale.ROOT);
    boolean local =
        name.equals("localhost")
            || name.endsWith(".localhost")
            || name.equals("::1")
            || name.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    if (!local) {
      throw new Refusal(
          421,
          "this port listens on loopback and answers requests for localhost, 127.0.0.1 or [::1]"
              + " only, not for '"
              + host
              + "' (a guard against DNS rebinding); serve it beyond loopback with --http-listen"
              + " to reach it by another name");
    }
  }

  private void route(HttpExchange exchange) throws IOException, Refusal {
    String method = exchange.getRequestMethod();
    String path = exchange.getRequestURI().getPath();
    List<String> parts = segments(path);
    if (path.equals("/metrics")) {
      only(method, "GET");
      metrics(exchange);
    } else if (path.equals("/healthz")) {
      only(method, "GET");
      boolean up = serving.getAsBoolean();
      exchange.getResponseHeaders().set("Content-Type", JSON);
      String body = "{\"status\":" + jsonString(up ? "SERVING" : "NOT_SERVING") + "}\n";
      send(exchange, up ? 200 : 503, body.getBytes(StandardCharsets.UTF_8));
    } else if (path.equals(WORKERS)) {
      only(method, "GET");
      ok(exchange, calls(exchange).listWorkers(ListWorkersRequest.getDefaultInstance()));
    } else if (path.equals(JOBS)) {
      if (method.equals("POST")) {
        submit(exchange);
      } else {
        only(method, "GET, POST");
        ok(exchange, calls(exchange).listJobs(listRequest(exchange)));
      }
    } else if (parts.size() == 4 && path.startsWith(JOBS + "/")) {
      only(method, "GET");
      Job job = calls(exchange).getJob(GetJobRequest.newBuilder().setId(parts.get(3)).build());
      ok(exchange, jobView(exchange, job));
    } else if (parts.size() == 5 && path.startsWith(JOBS + "/") && parts.get(4).equals("cancel")) {
      only(method, "POST");
      CancelJobRequest.Builder cancel = CancelJobRequest.newBuilder();
      parse(body(exchange, MAX_CANCEL_BODY_BYTES), cancel, true);
      ok(exchange, calls(exchange).cancelJob(cancel.setId(parts.get(3)).build()));
    } else if (path.equals(SESSION)) {
      only(method, "GET");
      session(exchange);
    } else if (path.equals(LOGIN)) {
      only(method, "GET");
      login(exchange);
    } else if (path.equals(LOGOUT)) {
      only(method, "POST");
      logout(exchange);
    } else if (method.equals("GET") && pages.has(path)) {
      page(exchange, path);
    } else {
      throw new Refusal(404, "no such endpoint: " + path + "; there are " + ENDPOINTS);
    }
  }

  /** {@code ?view=summary}: the job without what grows with its inputs and tasks. */
  private static Job jobView(HttpExchange exchange, Job job) throws Refusal {
    String query = exchange.getRequestURI().getRawQuery();
    if (query == null || query.isEmpty() || query.equals("view=full")) {
      return job;
    }
    if (!query.equals("view=summary")) {
      throw new Refusal(
          400, "GET " + JOBS + "/ID takes view=summary or view=full, got '" + query + "'");
    }
    // What a job page shows: the summary, and the failures and stops, which are bounded.
    return JobSummaries.of(job).toBuilder()
        .addAllFailures(job.getFailuresList())
        .addAllStops(job.getStopsList())
        .build();
  }

  /**
   * A dashboard page or asset. They hold no data (the page fetches it from the API), but are served
   * only to a browser with a session, so a stranger learns nothing of what runs here.
   */
  private void page(HttpExchange exchange, String path) throws IOException {
    if (!sessions.known(cookie(exchange))) {
      html(exchange, 401, DashboardPages.loggedOut(), null);
      return;
    }
    DashboardPages.Asset asset = pages.get(path);
    exchange.getResponseHeaders().set("Content-Type", asset.contentType());
    exchange.getResponseHeaders().set("Cache-Control", "no-cache");
    securityHeaders(exchange, null);
    send(exchange, 200, asset.bytes());
  }

  /**
   * Exchanges a one-time code for a session: the cookie is set here, and the key goes to the page's
   * own storage through a script that then leaves for the dashboard, so the spent code is all the
   * browser's history keeps.
   */
  private void login(HttpExchange exchange) throws IOException, Refusal {
    String query = exchange.getRequestURI().getRawQuery();
    String code = null;
    if (query != null && query.startsWith("code=") && query.indexOf('&') < 0) {
      code = URLDecoder.decode(query.substring("code=".length()), UTF8);
    }
    var login = sessions.redeem(code);
    if (login.isEmpty()) {
      html(exchange, 401, DashboardPages.badCode(), null);
      return;
    }
    String nonce = DashboardPages.nonce();
    exchange
        .getResponseHeaders()
        .add(
            "Set-Cookie",
            COOKIE
                + "="
                + login.get().cookie()
                + "; Path=/; HttpOnly; SameSite=Strict; Max-Age="
                + login.get().maxAgeSeconds()
                + (tls() ? "; Secure" : ""));
    html(exchange, 200, DashboardPages.loggedIn(nonce, login.get().key()), nonce);
  }

  private void logout(HttpExchange exchange) throws IOException, Refusal {
    sessionCaller(exchange);
    sessions.end(cookie(exchange));
    exchange
        .getResponseHeaders()
        .add("Set-Cookie", COOKIE + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    exchange.getResponseHeaders().set("Content-Type", JSON);
    send(exchange, 200, "{\"status\":\"logged out\"}\n".getBytes(UTF8));
  }

  /** Who the dashboard's session acts as, for the page to offer only what it may do. */
  private void session(HttpExchange exchange) throws IOException, Refusal {
    Caller caller = sessionCaller(exchange);
    String body =
        "{\"name\":"
            + jsonString(caller.name())
            + ",\"role\":"
            + jsonString(caller.role() == null ? "" : caller.role().wireName())
            + ",\"exec\":"
            + caller.exec()
            + "}\n";
    exchange.getResponseHeaders().set("Content-Type", JSON);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    send(exchange, 200, body.getBytes(UTF8));
  }

  private Caller sessionCaller(HttpExchange exchange) throws Refusal {
    return sessions
        .caller(cookie(exchange), exchange.getRequestHeaders().getFirst(KEY_HEADER))
        .orElseThrow(
            () ->
                new Refusal(
                    401,
                    "no dashboard session: log in with the URL `weft dashboard` prints (a session"
                        + " ends after "
                        + DashboardSessions.SESSION_HOURS
                        + " h, at logout, or when the coordinator restarts)"));
  }

  /** The session cookie's value, if the request has one. */
  private static String cookie(HttpExchange exchange) {
    List<String> headers = exchange.getRequestHeaders().get("Cookie");
    if (headers == null) {
      return null;
    }
    for (String header : headers) {
      for (String pair : header.split(";")) {
        String trimmed = pair.strip();
        if (trimmed.startsWith(COOKIE + "=")) {
          return trimmed.substring(COOKIE.length() + 1);
        }
      }
    }
    return null;
  }

  private static void html(HttpExchange exchange, int status, String page, String nonce)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    securityHeaders(exchange, nonce);
    send(exchange, status, page.getBytes(UTF8));
  }

  /**
   * Scripts only from this port (or the one inline script with {@code nonce}), never framed,
   * nothing sent to other sites.
   */
  private static void securityHeaders(HttpExchange exchange, String nonce) {
    String scripts = nonce == null ? "'self'" : "'nonce-" + nonce + "'";
    exchange
        .getResponseHeaders()
        .set(
            "Content-Security-Policy",
            "default-src 'none'; script-src "
                + scripts
                + "; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none';"
                + " form-action 'none'; frame-ancestors 'none'");
    exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    exchange.getResponseHeaders().set("Referrer-Policy", "no-referrer");
    exchange.getResponseHeaders().set("X-Frame-Options", "DENY");
  }

  private static List<String> segments(String path) {
    List<String> parts = new ArrayList<>();
    for (String part : path.split("/", -1)) {
      if (!part.isEmpty()) {
        parts.add(part);
      }
    }
    return parts;
  }

  private static void only(String method, String allowed) throws Refusal {
    if (!List.of(allowed.split(", ")).contains(method)) {
      throw new Refusal(405, method + " is not allowed here; use " + allowed);
    }
  }

  private void metrics(HttpExchange exchange) throws IOException {
    ExpositionFormatWriter writer =
        formats.findWriter(exchange.getRequestHeaders().getFirst("Accept"));
    // Gathered before the status is sent, so a conductor that does not answer is a 503.
    var snapshots = metrics.registry().scrape();
    ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
    writer.write(body, snapshots);
    exchange.getResponseHeaders().set("Content-Type", writer.getContentType());
    send(exchange, 200, body.toByteArray());
  }

  private void submit(HttpExchange exchange) throws IOException, Refusal {
    // Bodies are read before the door sees the token: the bound holds whoever sends them.
    try {
      if (!submits.tryAcquire(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
        throw new Refusal(
            503, "the coordinator takes " + MAX_SUBMITS_IN_FLIGHT + " job bodies at once; retry");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Refusal(503, "the coordinator is stopping");
    }
    Job job;
    try {
      JobSpec.Builder spec = JobSpec.newBuilder();
      parse(body(exchange, maxBodyBytes), spec, false);
      job = calls(exchange).submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
    } finally {
      submits.release();
    }
    json(exchange, 201, job, List.of("Location", JOBS + "/" + job.getId()));
  }

  private static ListJobsRequest listRequest(HttpExchange exchange) throws Refusal {
    ListJobsRequest.Builder request = ListJobsRequest.newBuilder();
    String query = exchange.getRequestURI().getRawQuery();
    if (query == null || query.isEmpty()) {
      return request.build();
    }
    for (String pair : query.split("&")) {
      int equals = pair.indexOf('=');
      String key = URLDecoder.decode(equals < 0 ? pair : pair.substring(0, equals), UTF8);
      String value = equals < 0 ? "" : URLDecoder.decode(pair.substring(equals + 1), UTF8);
      switch (key) {
        case "state" -> {
          for (String state : value.split(",")) {
            request.addStates(state(state));
          }
        }
        case "limit" -> {
          try {
            request.setLimit(Integer.parseInt(value));
          } catch (NumberFormatException e) {
            throw new Refusal(400, "limit: a whole number of jobs, got '" + value + "'");
          }
        }
        default ->
            throw new Refusal(
                400,
                "unknown query parameter '" + key + "': GET " + JOBS + " takes state and limit");
      }
    }
    return request.build();
  }

  private static JobState state(String text) throws Refusal {
    String name = text.strip().toUpperCase(Locale.ROOT);
    for (JobState state : JobState.values()) {
      if (state != JobState.JOB_STATE_UNSPECIFIED
          && state != JobState.UNRECOGNIZED
          && state.name().equals(name)) {
        return state;
      }
    }
    throw new Refusal(
        400,
        "state: one of waiting, queued, running, cancelling, succeeded, failed, cancelled"
            + " (several separated by commas), got '"
            + text
            + "'");
  }

  /**
   * A stub that carries the request's {@code Authorization} header to the door, as a gRPC client
   * would; the door decides whether it is needed.
   */
  private JobServiceGrpc.JobServiceBlockingStub calls(HttpExchange exchange) throws Refusal {
    Metadata headers = new Metadata();
    String authorization = exchange.getRequestHeaders().getFirst("Authorization");
    String cookie = authorization == null ? cookie(exchange) : null;
    if (cookie != null) {
      // The dashboard: the door judges the session; a cookie alone (as a browser sends it to any
      // port of this host, or to a page of another site) is not enough.
      String key = exchange.getRequestHeaders().getFirst(KEY_HEADER);
      if (key == null) {
        throw new Refusal(
            401, "a dashboard session's requests carry its " + KEY_HEADER + " header too");
      }
      try {
        headers.put(DashboardSessions.SESSION_HEADER, cookie);
        headers.put(DashboardSessions.SESSION_KEY_HEADER, key);
      } catch (IllegalArgumentException e) {
        throw new Refusal(401, "the dashboard session's cookie and key are plain ASCII");
      }
    } else if (authorization != null) {
      if (!authorization.startsWith(AuthMetadata.BEARER)) {
        throw new Refusal(
            401, "Authorization: expected 'Bearer <client token>' (`weft token create NAME`)");
      }
      try {
        headers.put(AuthMetadata.AUTHORIZATION, authorization);
      } catch (IllegalArgumentException e) {
        throw new Refusal(401, "Authorization: a token is plain ASCII");
      }
    }
    return JobServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(CALL_TIMEOUT_MS, TimeUnit.MILLISECONDS);
  }

  private static byte[] body(HttpExchange exchange, int limit) throws IOException, Refusal {
    InputStream in = exchange.getRequestBody();
    byte[] body = in.readNBytes(limit + 1);
    if (body.length > limit) {
      throw new Refusal(413, "the body is larger than " + limit + " bytes");
    }
    return body;
  }

  private static void parse(byte[] body, Message.Builder into, boolean optional) throws Refusal {
    String text = new String(body, StandardCharsets.UTF_8);
    if (text.isBlank()) {
      if (optional) {
        return;
      }
      throw new Refusal(
          400,
          "the body must be a JobSpec in protobuf's JSON mapping, as `weft submit ... --json`"
              + " prints its spec (e.g. {\"sum\": {\"from\": 1, \"to\": 100}})");
    }
    try {
      PARSER.merge(text, into);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      // The parser's message names the field or token it could not read.
      throw new Refusal(
          400,
          "the body is not a "
              + into.getDescriptorForType().getName()
              + " in protobuf's JSON mapping: "
              + e.getMessage());
    }
  }

  private static void ok(HttpExchange exchange, Message message) throws IOException {
    json(exchange, 200, message, List.of());
  }

  private static void json(HttpExchange exchange, int status, Message message, List<String> headers)
      throws IOException {
    for (int i = 0; i + 1 < headers.size(); i += 2) {
      exchange.getResponseHeaders().set(headers.get(i), headers.get(i + 1));
    }
    exchange.getResponseHeaders().set("Content-Type", JSON);
    send(exchange, status, (PRINTER.print(message) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  private static void error(HttpExchange exchange, int status, String message) throws IOException {
    if (status == 401) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"weft\"");
    }
    exchange.getResponseHeaders().set("Content-Type", JSON);
    String body = "{\"error\":" + jsonString(message) + "}\n";
    send(exchange, status, body.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * {@code text} as a JSON string. Written here rather than by JsonFormat, which escapes quotes and
   * angle brackets for HTML and so makes messages hard to read in a terminal.
   */
  static String jsonString(String text) {
    StringBuilder json = new StringBuilder(text.length() + 2).append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        case '\n' -> json.append("\\n");
        case '\r' -> json.append("\\r");
        case '\t' -> json.append("\\t");
        default -> {
          if (c < 0x20) {
            json.append(String.format("\\u%04x", (int) c));
          } else {
            json.append(c);
          }
        }
      }
    }
    return json.append('"').toString();
  }

  private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  private static String describe(Status status) {
    return status.getDescription() != null
        ? status.getDescription()
        : status.getCode().name().toLowerCase(Locale.ROOT);
  }

  /** The HTTP status for a gRPC one, by what the caller should do about it. */
  static int httpStatus(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, OUT_OF_RANGE -> 400;
      case UNAUTHENTICATED -> 401;
      case PERMISSION_DENIED -> 403;
      case NOT_FOUND -> 404;
      case ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED -> 409;
      case RESOURCE_EXHAUSTED -> 429;
      case UNAVAILABLE, CANCELLED -> 503;
      case DEADLINE_EXCEEDED -> 504;
      case UNIMPLEMENTED -> 501;
      default -> 500;
    };
  }
}
