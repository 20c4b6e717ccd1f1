package dev.weft.cli;

import dev.weft.bench.ClientProbe;
import dev.weft.wire.Address;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code weft bench-client}, hidden: the client process of {@code weft bench}'s client path, which
 * starts it and talks to it over its stdin and stdout (see {@link ClientProbe}). It reaches the
 * bench's own loopback coordinator over TLS with its admin token, as any client on that host.
 */
@Command(
    name = BenchClientCommand.NAME,
    hidden = true,
    description = "The client process of weft bench's client path; weft bench starts it.")
final class BenchClientCommand implements Callable<Integer> {
  static final String NAME = "bench-client";
  // Held so the level set below sticks: JUL forgets the settings of loggers nobody references.
  private static final Logger GRPC_LOG = Logger.getLogger("io.grpc");
  private static final int MAX_INBOUND_BYTES = 64 * 1024 * 1024;

  @Spec private CommandSpec spec;

  @Option(
      names = "--coordinator",
      required = true,
      paramLabel = "HOST:PORT",
      converter = AddressConverters.HostPort.class,
      description = "The coordinator to measure.")
  private Address coordinator;

  // The bench hands its coordinator's admin token over in WEFT_TOKEN, like any client's.
  @picocli.CommandLine.Mixin private TlsClientOptions tls;

  @Override
  public Integer call() throws IOException, InterruptedException {
    GRPC_LOG.setLevel(Level.WARNING);
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                coordinator.host(),
                coordinator.port(),
                java.util.Optional.ofNullable(tls.security(coordinator, false))
                    .orElseThrow(() -> TlsClientOptions.noToken(coordinator, false))
                    .credentials())
            .maxInboundMessageSize(MAX_INBOUND_BYTES)
            .userAgent("weft-bench-client/" + BuildInfo.version())
            .build();
    try {
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      return new ClientProbe(channel).serve(in, spec.commandLine().getOut());
    } finally {
      channel.shutdownNow();
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        spec.commandLine().getErr().println("bench-client: the channel did not close within 5 s");
      }
    }
  }
}
