package dev.weft.cli;

import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;
import dev.weft.worker.Swarm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code weft swarm}, hidden: the load generator of {@code weft bench --path swarm}, many workers
 * in one process (see {@link Swarm}), each on an Attach stream and a TCP connection of its own. It
 * says on stdout when all of them are attached, and stops when its stdin ends.
 */
@Command(
    name = SwarmCommand.NAME,
    hidden = true,
    description = "The load generator of weft bench --path swarm; weft bench starts it.")
final class SwarmCommand implements Callable<Integer> {
  static final String NAME = "swarm";
  // Held so the levels set below stick: JUL forgets the settings of loggers nobody references.
  private static final Logger WEFT_LOG = Logger.getLogger("dev.weft");
  private static final Logger GRPC_LOG = Logger.getLogger("io.grpc");
  private static final Duration POLL = Duration.ofMillis(10);

  @Spec private CommandSpec spec;

  @Option(
      names = "--join",
      required = true,
      paramLabel = "HOST:PORT",
      converter = AddressConverters.HostPort.class,
      description = "The coordinator to attach to.")
  private Address join;

  @Option(names = "--workers", defaultValue = "1000", description = "Workers (streams).")
  private int workers;

  @Option(names = "--slots", defaultValue = "4", description = "Slots of each worker.")
  private int slots;

  @Option(
      names = "--prefetch",
      defaultValue = "0",
      description = "Tasks each worker queues beyond its slots.")
  private int prefetch;

  @Option(
      names = "--event-loops",
      defaultValue = "2",
      description = "Event loop threads all the streams share.")
  private int eventLoops;

  @Option(
      names = "--attach-deadline",
      defaultValue = "120s",
      converter = DurationConverter.class,
      description = "How long all workers may take to attach.")
  private Duration attachDeadline;

  // The bench hands the join token over in WEFT_TOKEN, as to any worker.
  @Mixin private TlsClientOptions tls;

  @Override
  public Integer call() throws IOException, InterruptedException {
    WEFT_LOG.setLevel(Level.WARNING);
    GRPC_LOG.setLevel(Level.WARNING);
    PrintWriter out = spec.commandLine().getOut();
    ClientSecurity security = tls.security(join, true);
    if (security == null) {
      throw TlsClientOptions.noToken(join, true);
    }
    Swarm swarm;
    try {
      swarm =
          Swarm.start(
              new Swarm.Options(
                  join.toString(), security, workers, slots, prefetch, eventLoops, "swarm"));
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    try {
      long start = System.nanoTime();
      out.println("dialing workers=" + workers);
      out.flush();
      long deadline = start + attachDeadline.toNanos();
      int attached;
      while ((attached = swarm.attached()) < workers) {
        if (swarm.refusal().isPresent()) {
          throw new CliException(ExitCodes.REFUSED, swarm.refusal().get());
        }
        if (System.nanoTime() - deadline > 0) {
          throw new CliException(
              ExitCodes.UNREACHABLE,
              attached + " of " + workers + " workers attached within " + attachDeadline);
        }
        if (swarm.awaitStop(POLL)) {
          break;
        }
      }
      out.printf(
          "attached workers=%d ms=%.1f sessions=%d%n",
          attached, (System.nanoTime() - start) / 1e6, swarm.sessionsStarted());
      out.flush();
      // Until the bench closes our stdin (or the coordinator refuses us).
      Thread stdin =
          Thread.ofPlatform()
              .daemon()
              .name("swarm-stdin")
              .start(
                  () -> {
                    try (BufferedReader in =
                        new BufferedReader(
                            new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                      while (in.readLine() != null) {
                        // Commands are not needed yet; the end of the input is what counts.
                      }
                    } catch (IOException e) {
                      spec.commandLine()
                          .getErr()
                          .println("swarm: reading stdin: " + e.getMessage());
                    }
                  });
      while (stdin.isAlive() && !swarm.awaitStop(Duration.ofMillis(200))) {
        // Waits for either.
      }
      if (swarm.refusal().isPresent()) {
        throw new CliException(ExitCodes.REFUSED, swarm.refusal().get());
      }
      out.printf("stopping sessions=%d attached=%d%n", swarm.sessionsStarted(), swarm.attached());
      out.flush();
      return ExitCodes.OK;
    } finally {
      swarm.close();
    }
  }
}
