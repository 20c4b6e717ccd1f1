package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class WorkerConfigTest {

  @Test
  void joinTakesOneAddressOrSeveralSeparatedByCommas() {
    assertEquals(
        List.of(new CoordinatorAddress("127.0.0.1", 7070)),
        new WorkerConfig().join("127.0.0.1:7070").coordinators());
    WorkerConfig several = new WorkerConfig().join("node-a:7070, [::1]:7071,node-b:7070");
    assertEquals(
        List.of(
            new CoordinatorAddress("node-a", 7070),
            new CoordinatorAddress("::1", 7071),
            new CoordinatorAddress("node-b", 7070)),
        several.coordinators());
    assertEquals("[::1]:7071", several.coordinators().get(1).toString());
    for (String bad : List.of("a:1,,b:2", "a:1,", "a:1,a:1", "a:1,b", "a:0", "a:1,b:70000")) {
      assertThrows(IllegalArgumentException.class, () -> new WorkerConfig().join(bad), () -> bad);
    }
  }

  private static WorkerConfig grpcWorker() {
    return new WorkerConfig().join("127.0.0.1:7070").slots(3);
  }

  @Test
  void prefetchIsAutoByDefaultThatIsAsManyAsTheSlots() {
    assertEquals(3, grpcWorker().conclude().prefetch());
    assertEquals(3, grpcWorker().prefetch("auto").conclude().prefetch());
    assertEquals(3, grpcWorker().prefetch(WorkerConfig.AUTO_PREFETCH).conclude().prefetch());
  }

  @Test
  void prefetchTakesANumberOfTasksIncludingZero() {
    assertEquals(0, grpcWorker().prefetch("0").conclude().prefetch());
    assertEquals(17, grpcWorker().prefetch("17").conclude().prefetch());
    assertEquals(65_536, grpcWorker().prefetch("65536").conclude().prefetch());
    assertEquals(512, grpcWorker().prefetch(512).conclude().prefetch());
  }

  @Test
  void aBadPrefetchNamesTheAllowedValues() {
    for (String bad : new String[] {"", "lots", "Auto", "-1", "65537", "1.5", "99999999999"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> grpcWorker().prefetch(bad), bad);
      assertEquals(
          "prefetch must be auto or a number of tasks 0..65536, got '" + bad + "'", e.getMessage());
    }
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> grpcWorker().prefetch(-2).conclude());
    assertEquals("prefetch must be auto or a number of tasks 0..65536, got '-2'", e.getMessage());
  }

  @Test
  void resourcesDefaultToOneCpuPerSlotTheWorkersMemoryAndNoGpu() {
    WorkerConfig config = grpcWorker().conclude();
    assertEquals(3_000, config.cpuMillis());
    assertEquals(WorkerMemory.detect(), config.memBytes());
    assertTrue(config.memBytes() > 0);
    assertEquals(0, config.gpus());
    assertEquals(Map.of(), config.resources());
    assertEquals(Map.of(), config.labels());
  }

  @Test
  void resourcesAndLabelsAsGiven() {
    WorkerConfig config =
        grpcWorker()
            .cpuMillis(1_500)
            .memBytes(4L << 30)
            .gpus(2)
            .resource("licence", 3)
            .resource("scratch/ssd", 0)
            .label("zone", "eu-west-1")
            .label("example.com/rack", "r01")
            .conclude();
    assertEquals(1_500, config.cpuMillis());
    assertEquals(4L << 30, config.memBytes());
    assertEquals(2, config.gpus());
    assertEquals(Map.of("licence", 3L, "scratch/ssd", 0L), config.resources());
    assertEquals(Map.of("zone", "eu-west-1", "example.com/rack", "r01"), config.labels());
  }

  @Test
  void badResourcesAndLabelsSayWhatIsWrong() {
    assertRejected(
        "cpu must not be negative, got -1000 millis",
        () -> grpcWorker().cpuMillis(-1_000).conclude());
    assertRejected(
        "mem must not be negative, got -2 bytes", () -> grpcWorker().memBytes(-2).conclude());
    assertRejected("gpu must not be negative, got -1", () -> grpcWorker().gpus(-1).conclude());
    assertRejected(
        "licence must not be negative, got -3",
        () -> grpcWorker().resource("licence", -3).conclude());
    assertRejected(
        "a resource name is letters, digits and . _ / - (got 'two words')",
        () -> grpcWorker().resource("two words", 1));
    assertRejected(
        "'GPU' is a built-in resource: write it as cpu, mem or gpu",
        () -> grpcWorker().resource("GPU", 1));
    assertRejected(
        "resource licence is given twice",
        () -> grpcWorker().resource("licence", 1).resource("licence", 2));
    assertRejected(
        "a label is KEY=VALUE, both of letters, digits and . _ / - (got 'zone=eu west')",
        () -> grpcWorker().label("zone", "eu west"));
    assertRejected(
        "a label is KEY=VALUE, both of letters, digits and . _ / - (got '=x')",
        () -> grpcWorker().label("", "x"));
    assertRejected(
        "label zone is given twice (eu and us)",
        () -> grpcWorker().label("zone", "eu").label("zone", "us"));
  }

  private static void assertRejected(String message, Executable setting) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setting);
    assertEquals(message, e.getMessage());
  }

  @Test
  void memTotalIsReadFromMeminfoInBytes() {
    assertEquals(
        OptionalLong.of(24_684_544L * 1024),
        WorkerMemory.memTotal(
            List.of("MemTotal:       24684544 kB", "MemFree:        23902352 kB")));
    assertEquals(OptionalLong.empty(), WorkerMemory.memTotal(List.of("MemFree: 1 kB")));
  }
}
