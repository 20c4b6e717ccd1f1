package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class WorkerConfigTest {

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
}
