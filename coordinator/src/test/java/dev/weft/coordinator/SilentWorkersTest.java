package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weft.local.HostIdentity;
import dev.weft.posix.ProcessStat;
import dev.weft.v1.Hello;
import java.io.File;
import java.text.MessageFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The silent-worker reaper against real processes: a hello is the worker's word, so a pid it names
 * is signalled only when /proc agrees on the start time and the user.
 */
class SilentWorkersTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final List<Process> started = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();
  // A strong reference: java.util.logging keeps loggers only weakly, and with them our handler.
  private final Logger logger = Logger.getLogger(SilentWorkers.class.getName());
  private final Handler handler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
            synchronized (warnings) {
              warnings.add(MessageFormat.format(record.getMessage(), record.getParameters()));
            }
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };
  private Conductor conductor;
  private ScheduledThreadPoolExecutor timers;
  private SilentWorkers reaper;

  @BeforeEach
  void start() {
    logger.addHandler(handler);
    conductor = new Conductor(System::nanoTime, System::currentTimeMillis);
    conductor.start();
    timers = new ScheduledThreadPoolExecutor(1);
    // No patience, a short grace; every worker is still lost.
    reaper = new SilentWorkers(conductor, timers, 200, 0, hello -> true);
  }

  @AfterEach
  void stop() throws InterruptedException {
    started.forEach(Process::destroyForcibly);
    for (Process process : started) {
      assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    }
    timers.shutdownNow();
    assertTrue(timers.awaitTermination(10, TimeUnit.SECONDS));
    conductor.close();
    logger.removeHandler(handler);
  }

  private Process sleeper(String... prefix) throws Exception {
    List<String> command = new ArrayList<>(List.of(prefix));
    command.addAll(List.of("sleep", "60"));
    Process process =
        new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    started.add(process);
    // setpriv execs in place: once the process is sleep, it runs as whom it will.
    Await.until(
        () ->
            ProcessHandle.of(process.pid())
                .flatMap(h -> h.info().command())
                .map(c -> c.endsWith("/sleep"))
                .orElse(false),
        "the process to become sleep",
        WAIT);
    return process;
  }

  /** The hello a worker with {@code pid} on this host, as this user, would send. */
  private static Hello hello(long pid, long startTicks) {
    HostIdentity host = HostIdentity.current();
    return Hello.newBuilder()
        .setWorkerId("forged")
        .setPid(pid)
        .setSlots(1)
        .setHost(
            dev.weft.v1.HostIdentity.newBuilder()
                .setHostname(host.hostname())
                .setMachineId(host.machineId())
                .setBootId(host.bootId())
                .setShmDevice(host.shmDevice())
                .setNetNamespace(host.netNamespace())
                .setPidNamespace(HostIdentity.pidNamespace())
                .setUid(host.uid()))
        .setProcessStartTicks(startTicks)
        .build();
  }

  private String awaitWarning(String part) {
    Await.until(
        () -> {
          synchronized (warnings) {
            return warnings.stream().anyMatch(w -> w.contains(part));
          }
        },
        "a warning containing '" + part + "'",
        WAIT);
    synchronized (warnings) {
      return warnings.stream().filter(w -> w.contains(part)).findFirst().orElseThrow();
    }
  }

  @Test
  void aHelloWithAnotherStartTimeGetsThatProcessNoSignal() throws Exception {
    Process sleep = sleeper();
    long ticks = ProcessStat.of(sleep.pid()).orElseThrow().startTicks();
    reaper.reclaim("forged", hello(sleep.pid(), ticks + 1));
    String warning = awaitWarning("is not signalled");
    assertEquals(
        "worker forged stopped answering, but its pid "
            + sleep.pid()
            + " is not signalled: that process started at tick "
            + ticks
            + ", not at "
            + (ticks + 1)
            + " as the worker's hello said (the pid names another process)",
        warning);
    assertTrue(sleep.isAlive());
  }

  @Test
  void aHelloNamingAnotherUsersProcessGetsItNoSignal() throws Exception {
    HostIdentity self = HostIdentity.current();
    assumeTrue(self.uid() == 0, "only root can start a process as another user");
    Process sleep = sleeper("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups");
    long ticks = ProcessStat.of(sleep.pid()).orElseThrow().startTicks();
    // The start time is right (anyone can read it in /proc), and the hello claims our uid.
    reaper.reclaim("forged", hello(sleep.pid(), ticks));
    String warning = awaitWarning("is not signalled");
    assertEquals(
        "worker forged stopped answering, but its pid "
            + sleep.pid()
            + " is not signalled: that process runs as uid 65534, not as this coordinator's uid 0",
        warning);
    assertTrue(sleep.isAlive());
  }

  @Test
  void theWorkersOwnProcessIsTerminated() throws Exception {
    // The control: the same reaper does signal a process that is what its hello says.
    Process sleep = sleeper();
    long ticks = ProcessStat.of(sleep.pid()).orElseThrow().startTicks();
    assertNull(reaper.refusal(sleep.pid(), ticks));
    reaper.reclaim("honest", hello(sleep.pid(), ticks));
    assertTrue(sleep.waitFor(WAIT.toMillis(), TimeUnit.MILLISECONDS), "SIGTERM ends sleep");
    assertEquals(128 + 15, sleep.exitValue());
    awaitWarning("SIGTERM now");
  }
}
