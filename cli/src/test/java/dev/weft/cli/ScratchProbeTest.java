package dev.weft.cli;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.SumParams;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import java.io.File;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

final class ScratchProbeTest {

  @Test
  void coordinatorClosedBeforeItsShmWorker() throws Exception {
    Coordinator c = Coordinator.start(new CoordinatorConfig().listen("127.0.0.1", 0));
    Worker w =
        Worker.start(
            new WorkerConfig()
                .join("127.0.0.1:" + c.port())
                .id("probe")
                .transport("auto")
                .slots(2));
    System.err.println("PROBE shm " + c.awaitTransport("shm", Duration.ofSeconds(10)));
    String id = c.id();
    long t0 = System.nanoTime();
    c.close();
    System.err.println("PROBE close took ms " + (System.nanoTime() - t0) / 1_000_000);
    System.err.println("PROBE segments after close " + Leftovers.segmentsOf(id));
    System.err.println("PROBE worker transport " + w.transport());
    t0 = System.nanoTime();
    w.close();
    System.err.println("PROBE worker close took ms " + (System.nanoTime() - t0) / 1_000_000);
  }

  @Test
  void userStartedShmWorkerKilled() throws Exception {
    Coordinator c =
        Coordinator.start(
            new CoordinatorConfig().listen("127.0.0.1", 0).heartbeatIntervalMs(250).leaseMs(2000));
    Process p =
        new ProcessBuilder(
                WeftJvm.command(
                    List.of(
                        "worker",
                        "--join",
                        "127.0.0.1:" + c.port(),
                        "--id",
                        "user",
                        "--slots",
                        "2",
                        "--parent-pid",
                        Long.toString(ProcessHandle.current().pid()))))
            .redirectErrorStream(true)
            .redirectOutput(new File("/tmp/probe-worker.log"))
            .start();
    System.err.println("PROBE shm " + c.awaitTransport("shm", Duration.ofSeconds(30)));
    System.err.println("PROBE segments " + Leftovers.segmentsOf(c.id()));
    var job =
        c.run(
            JobSpec.newBuilder()
                .setSum(SumParams.newBuilder().setFrom(1).setTo(4_000_000_000L))
                .setTasks(400)
                .setMaxAttempts(5)
                .build());
    Thread.sleep(1500);
    long t0 = System.nanoTime();
    p.destroyForcibly();
    p.waitFor();
    Await.until(
        "segment gone", Duration.ofSeconds(20), () -> Leftovers.segmentsOf(c.id()).isEmpty());
    System.err.println("PROBE segment gone after ms " + (System.nanoTime() - t0) / 1_000_000);
    Worker w =
        Worker.start(
            new WorkerConfig()
                .join("127.0.0.1:" + c.port())
                .id("second")
                .transport("auto")
                .slots(2));
    Job j = job.get(60, TimeUnit.SECONDS);
    System.err.println(
        "PROBE job "
            + j.getState()
            + " "
            + j.getResult().getSum().getSum()
            + " attempts "
            + j.getAttempts()
            + " failures "
            + j.getFailuresList());
    w.close();
    c.close();
  }

  @Test
  void closeRightAfterStart() throws Exception {
    Coordinator c = Coordinator.start(new CoordinatorConfig().listen("127.0.0.1", 0));
    int npes = 0;
    for (int i = 0; i < 100; i++) {
      Worker w =
          Worker.start(
              new WorkerConfig()
                  .join("127.0.0.1:" + c.port())
                  .id("quick-" + i)
                  .transport("grpc")
                  .slots(1));
      try {
        w.close();
      } catch (NullPointerException e) {
        npes++;
        if (npes == 1) e.printStackTrace();
      }
    }
    System.err.println("PROBE NPEs in 100 start/close: " + npes);
    c.close();
  }
}
