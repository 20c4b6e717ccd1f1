package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.weft.v1.JobSpec;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.SumParams;
import java.util.Set;
import org.junit.jupiter.api.Test;

class JobKindsTest {

  @Test
  void serviceLoaderFindsEveryBuiltInKind() {
    JobKinds kinds = JobKinds.load();
    assertEquals(Set.of("exec", "hash", "noop", "pi", "primes", "sleep", "sum"), kinds.names());
    for (String name : kinds.names()) {
      assertEquals(name, kinds.find(name).orElseThrow().name());
    }
  }

  @Test
  void specsFindTheirKind() throws InvalidJobException {
    JobKinds kinds = JobKinds.load();
    assertInstanceOf(
        SumKind.class,
        kinds.kindOf(JobSpec.newBuilder().setSum(SumParams.getDefaultInstance()).build()));
    assertInstanceOf(
        PrimesKind.class,
        kinds.kindOf(JobSpec.newBuilder().setPrimes(PrimesParams.getDefaultInstance()).build()));
  }

  @Test
  void maxTasksIsAMillion() {
    assertEquals(1_000_000, JobKinds.MAX_TASKS);
  }
}
