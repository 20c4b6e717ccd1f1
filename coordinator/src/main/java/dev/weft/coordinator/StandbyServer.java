package dev.weft.coordinator;

import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.Leaders;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What a standby coordinator serves on the leader's port and probe port while another coordinator
 * leads the journal: every JobService and WorkerService call ends UNAVAILABLE, naming the leader in
 * its message and in the {@code weft-leader} trailer, so clients and workers go there; health says
 * NOT_SERVING (a Kubernetes Service then reaches the leader alone). Callers meet the same TLS and
 * tokens as at the leader.
 */
public final class StandbyServer implements AutoCloseable {
  // Shared with the clients that follow it (dev.weft.wire.Leaders).
  static final Metadata.Key<String> LEADER = Leaders.LEADER;

  private final Server server;
  private final Server probe;

  private StandbyServer(Server server, Server probe) {
    this.server = server;
    this.probe = probe;
  }

  /** Serves {@code config}'s port (and probe port), telling callers {@code leader}'s answer. */
  public static StandbyServer start(
      CoordinatorConfig config, ServerSecurity security, Supplier<String> leader)
      throws IOException {
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.NOT_SERVING);
    health.setStatus(JobServiceGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    health.setStatus(WorkerServiceGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(config.host(), config.port()), security.credentials())
            .withOption(ChannelOption.SO_REUSEADDR, true)
            .maxInboundMessageSize(64 * 1024)
            .maxInboundMetadataSize(64 * 1024)
            .handshakeTimeout(10, TimeUnit.SECONDS)
            .directExecutor()
            .addService(refusing(JobServiceGrpc.getServiceDescriptor(), leader))
            .addService(refusing(WorkerServiceGrpc.getServiceDescriptor(), leader))
            .addService(health.getHealthService());
    security.intercept(builder);
    Server server;
    try {
      server = builder.build().start();
    } catch (IOException e) {
      throw new IOException(
          "cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
    }
    Server probe = null;
    if (config.probePort() >= 0) {
      try {
        probe =
            NettyServerBuilder.forAddress(
                    new InetSocketAddress(config.probeHost(), config.probePort()))
                .withOption(ChannelOption.SO_REUSEADDR, true)
                .maxInboundMessageSize(64 * 1024)
                .handshakeTimeout(10, TimeUnit.SECONDS)
                .addService(health.getHealthService())
                .build()
                .start();
      } catch (IOException e) {
        server.shutdownNow();
        throw new IOException(
            "cannot listen for health probes on "
                + config.probeHost()
                + ":"
                + config.probePort()
                + ": "
                + e.getMessage(),
            e);
      }
    }
    return new StandbyServer(server, probe);
  }

  /** The bound port (useful when the configured port was 0). */
  public int port() {
    return server.getPort();
  }

  private static ServerServiceDefinition refusing(
      ServiceDescriptor service, Supplier<String> leader) {
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(service);
    for (MethodDescriptor<?, ?> method : service.getMethods()) {
      definition.addMethod(refusing(method, leader));
    }
    return definition.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> refusing(
      MethodDescriptor<Q, R> method, Supplier<String> leader) {
    ServerCallHandler<Q, R> handler =
        (call, headers) -> {
          refuse(call, leader.get());
          return new ServerCall.Listener<>() {};
        };
    return ServerMethodDefinition.create(method, handler);
  }

  private static void refuse(ServerCall<?, ?> call, String leader) {
    Metadata trailers = new Metadata();
    String message;
    if (leader == null) {
      message = Leaders.STANDBY_MESSAGE + " and no coordinator leads the journal now; try again";
    } else {
      message = Leaders.STANDBY_MESSAGE + "; the leader is at " + leader;
      trailers.put(LEADER, leader);
    }
    call.close(Status.UNAVAILABLE.withDescription(message), trailers);
  }

  /** Stops serving; the port is free for the coordinator that follows in this process. */
  @Override
  public void close() {
    server.shutdownNow();
    if (probe != null) {
      probe.shutdownNow();
    }
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
      if (probe != null) {
        probe.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
