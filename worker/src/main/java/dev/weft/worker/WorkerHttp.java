package dev.weft.worker;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

/**
 * A worker's HTTP port ({@code weft worker --http-listen}): {@code /metrics} (Prometheus) and
 * {@code /healthz}, read-only and in plain text. A worker has no certificate of its own to serve
 * HTTPS with, so {@link WorkerConfig#conclude} lets it beyond loopback only when the worker talks
 * plain text anyway ({@code --insecure}). Served as the coordinator's port is: the JDK's server,
 * virtual threads, at most {@link #MAX_IN_FLIGHT} requests at once.
 */
final class WorkerHttp implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(WorkerHttp.class.getName());
  static final int MAX_IN_FLIGHT = 16;
  // A request's headers must arrive within this, or its connection is closed.
  static final long MAX_REQUEST_SECONDS = 60;
  private static final String ENDPOINTS = "GET /metrics, GET /healthz";

  /** What {@code /healthz} says: 200 while {@code serving}, else 503. */
  record Health(boolean serving, String transport) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private final WorkerMetrics metrics;
  private final Supplier<Health> health;
  private final ExpositionFormats formats = ExpositionFormats.init();
  private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);

  private WorkerHttp(
      HttpServer server, ExecutorService executor, WorkerMetrics metrics, Supplier<Health> health) {
    this.server = server;
    this.executor = executor;
    this.metrics = metrics;
    this.health = health;
  }

  static WorkerHttp start(InetSocketAddress address, WorkerMetrics metrics, Supplier<Health> health)
      throws IOException {
    // As the coordinator's port does: without nodelay a keep-alive scrape waits on delayed ACKs,
    // and without maxReqTime a request may take forever to arrive. Read once, when the first
    // server of the JVM is made; left alone when the user set them.
    System.getProperties().putIfAbsent("sun.net.httpserver.nodelay", "true");
    System.getProperties()
        .putIfAbsent("sun.net.httpserver.maxReqTime", Long.toString(MAX_REQUEST_SECONDS));
    HttpServer server = HttpServer.create(address, 0);
    ExecutorService executor =
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("weft-worker-http-", 0).factory());
    WorkerHttp http = new WorkerHttp(server, executor, metrics, health);
    server.createContext("/", http::handle);
    server.setExecutor(executor);
    server.start();
    return http;
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!inFlight.tryAcquire()) {
        text(exchange, 503, "the worker serves at most " + MAX_IN_FLIGHT + " requests at once\n");
        return;
      }
      try {
        route(exchange);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, "an HTTP request failed", e);
        text(exchange, 500, "the worker failed to answer: " + e + "\n");
      } finally {
        inFlight.release();
      }
    }
  }

  private void route(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    if (!path.equals("/metrics") && !path.equals("/healthz")) {
      text(exchange, 404, "no such endpoint: " + path + "; there are " + ENDPOINTS + "\n");
      return;
    }
    if (!exchange.getRequestMethod().equals("GET")) {
      exchange.getResponseHeaders().set("Allow", "GET");
      text(exchange, 405, exchange.getRequestMethod() + " is not allowed here; use GET\n");
      return;
    }
    if (path.equals("/metrics")) {
      ExpositionFormatWriter writer =
          formats.findWriter(exchange.getRequestHeaders().getFirst("Accept"));
      ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
      writer.write(body, metrics.registry().scrape());
      exchange.getResponseHeaders().set("Content-Type", writer.getContentType());
      send(exchange, 200, body.toByteArray());
    } else {
      Health now = health.get();
      String body =
          "{\"status\":\""
              + (now.serving() ? "SERVING" : "NOT_SERVING")
              + "\",\"transport\":\""
              + now.transport()
              + "\"}\n";
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      send(exchange, now.serving() ? 200 : 503, body.getBytes(StandardCharsets.UTF_8));
    }
  }

  private static void text(HttpExchange exchange, int status, String message) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    send(exchange, status, message.getBytes(StandardCharsets.UTF_8));
  }

  private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }
}
