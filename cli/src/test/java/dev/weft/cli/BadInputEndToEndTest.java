package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.NoopParams;
import dev.weft.v1.PluginParams;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.SumParams;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile and malformed input against a real coordinator: oversized requests, bytes that are not
 * HTTP/2, HTTP/1.1, connections that never speak, and fields out of range. Each is refused and the
 * coordinator keeps serving.
 */
final class BadInputEndToEndTest {
  private static final long READ_TIMEOUT_MS = 15_000;

  private ProcessCluster cluster;
  private Path readable;
  private ManagedChannel channel;
  private int probePort;

  @BeforeEach
  void start() throws Exception {
    cluster = new ProcessCluster();
    readable = Files.createTempDirectory("weft-hash-root-");
    probePort = ProcessCluster.freePort();
    cluster.startCoordinator(
        0, "--hash-root", readable.toString(), "--probe-listen", "127.0.0.1:" + probePort);
    channel = cluster.channelBuilder().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow();
    channel.awaitTermination(10, TimeUnit.SECONDS);
    cluster.close();
    try (var files = Files.list(readable)) {
      for (Path file : files.toList()) {
        Files.delete(file);
      }
    }
    Files.delete(readable);
  }

  private JobServiceGrpc.JobServiceBlockingStub jobs() {
    return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private void assertServing() {
    ServingStatus status =
        HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance())
            .getStatus();
    assertEquals(ServingStatus.SERVING, status);
    // And real work is still taken.
    String id =
        jobs()
            .submitJob(
                SubmitJobRequest.newBuilder()
                    .setSpec(
                        JobSpec.newBuilder().setSum(SumParams.newBuilder().setFrom(1).setTo(10)))
                    .build())
            .getId();
    assertTrue(id.startsWith("j"), id);
  }

  @Test
  void theProbePortServesHealthAloneInPlainText() throws Exception {
    ManagedChannel probes =
        NettyChannelBuilder.forAddress("127.0.0.1", probePort).usePlaintext().build();
    try {
      ServingStatus status =
          HealthGrpc.newBlockingStub(probes)
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance())
              .getStatus();
      assertEquals(ServingStatus.SERVING, status);
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () ->
                  JobServiceGrpc.newBlockingStub(probes)
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .submitJob(
                          SubmitJobRequest.newBuilder()
                              .setSpec(
                                  JobSpec.newBuilder()
                                      .setSum(SumParams.newBuilder().setFrom(1).setTo(10)))
                              .build()));
      assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e::toString);
    } finally {
      probes.shutdownNow();
      probes.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aHundredMebibyteRequestIsRefusedAndTheServerCarriesOn() {
    JobSpec huge =
        JobSpec.newBuilder()
            .setPlugin(
                PluginParams.newBuilder()
                    .setKind("anything")
                    .setData(ByteString.copyFrom(new byte[100 * 1024 * 1024])))
            .build();
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(huge).build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e::toString);
    assertServing();
  }

  @Test
  void randomBytesHttp11AndSilentConnectionsDoNotDisturbService() throws Exception {
    byte[] noise = new byte[64 * 1024];
    new Random(42).nextBytes(noise);
    assertClosedAfterSending(noise);
    assertClosedAfterSending(
        "GET / HTTP/1.1\r\nHost: weft\r\nConnection: keep-alive\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));

    List<Socket> silent = new ArrayList<>();
    try {
      for (int i = 0; i < 32; i++) {
        silent.add(connect());
      }
      assertServing();
    } finally {
      for (Socket socket : silent) {
        socket.close();
      }
    }
    assertServing();
  }

  @Test
  void fieldsOutOfRangeAreRefusedNamingTheField() {
    assertInvalid(
        JobSpec.newBuilder()
            .setSum(SumParams.newBuilder().setFrom(1).setTo(1_000))
            .setTaskSize(-5)
            .build(),
        "task_size");
    assertInvalid(
        JobSpec.newBuilder()
            .setSum(SumParams.newBuilder().setFrom(1).setTo(1_000_000_000))
            .setTasks(50_000_000)
            .build(),
        "tasks");
    assertInvalid(
        JobSpec.newBuilder()
            .setNoop(NoopParams.newBuilder().setPayloadBytes(-1))
            .setTasks(1)
            .build(),
        "noop.payload_bytes");
    assertInvalid(JobSpec.newBuilder().setMaxAttempts(-1).build(), "max_attempts");
    assertInvalid(
        JobSpec.newBuilder()
            .setSum(SumParams.newBuilder().setFrom(1).setTo(10))
            .addWorkers(" ")
            .build(),
        "workers");
    assertServing();
  }

  @Test
  void hashJobsReadOnlyUnderTheCoordinatorsRoots() throws Exception {
    Path inside = Files.writeString(readable.resolve("data.txt"), "weft\n".repeat(1000));
    Path link = readable.resolve("escape");
    Files.createSymbolicLink(link, Path.of("/etc/hostname"));

    CliResult outside = cluster.client("submit", "hash", "--file", "/etc/hostname");
    assertExit(2, outside);
    assertTrue(outside.err().contains("hash.path"), outside::toString);
    assertTrue(outside.err().contains("outside the directories"), outside::toString);
    CliResult viaLink = cluster.client("submit", "hash", "--file", link.toString());
    assertExit(2, viaLink);
    assertTrue(viaLink.err().contains("outside the directories"), viaLink::toString);

    cluster.startWorker("w1", 1);
    cluster.awaitWorkers(1);
    CliResult ok =
        cluster.client("submit", "hash", "--file", inside.toString(), "--wait", "--json");
    assertExit(0, ok);
    assertEquals(JobState.SUCCEEDED, ok.job().getState());
    assertEquals(5000, ok.job().getResult().getHash().getBytes());
  }

  private void assertInvalid(JobSpec spec, String field) {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()),
            () -> "accepted: " + spec);
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e::toString);
    String description = String.valueOf(e.getStatus().getDescription());
    assertTrue(description.startsWith(field), () -> "does not name " + field + ": " + description);
  }

  private Socket connect() throws IOException {
    Socket socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", cluster.coordinator().port()), 10_000);
    socket.setSoTimeout((int) READ_TIMEOUT_MS);
    return socket;
  }

  /** Sends {@code bytes} and expects the server to close the connection (whatever it answers). */
  private void assertClosedAfterSending(byte[] bytes) throws IOException {
    try (Socket socket = connect()) {
      OutputStream out = socket.getOutputStream();
      try {
        out.write(bytes);
        out.flush();
      } catch (IOException e) {
        return; // closed while we were still writing: refused, which is the point
      }
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        while (in.read(buffer) >= 0) {
          // drain whatever it says (a GOAWAY, an HTTP error) until it closes
        }
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the coordinator kept a garbage connection open", e);
      } catch (IOException e) {
        // reset by the server: also a refusal
      }
    }
  }
}
