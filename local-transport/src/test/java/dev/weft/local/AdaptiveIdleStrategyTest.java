package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The phases of {@link AdaptiveIdleStrategy}, driven by a clock the test moves. */
class AdaptiveIdleStrategyTest {
  private static final long SPIN = 5_000;
  private static final long YIELD = 100_000;
  private static final long RECENT = 10_000_000;
  private static final long MIN_PARK = 50_000;
  private static final long MAX_PARK = 400_000;

  /** A clock that moves only when told to, or by {@code step} on every read. */
  private static final class FakeClock {
    long now = 1_000_000_000L;
    long step;

    long read() {
      long t = now;
      now += step;
      return t;
    }
  }

  private final FakeClock clock = new FakeClock();
  private final List<Long> parks = new ArrayList<>();

  private AdaptiveIdleStrategy strategy(long spinNs, long yieldNs) {
    return new AdaptiveIdleStrategy(
        spinNs,
        yieldNs,
        RECENT,
        MIN_PARK,
        MAX_PARK,
        maxNs -> {
          parks.add(maxNs);
          clock.now += maxNs;
        },
        clock::read);
  }

  @Test
  void afterRecentWorkItSpinsThenYieldsForTheirTimesThenParksDoublingUpToTheMax() {
    AdaptiveIdleStrategy idle = strategy(SPIN, YIELD);
    idle.idle(1);
    long start = clock.now;
    idle.idle(0); // the wait begins
    // Spinning and yielding park nothing, however often they are called, until their time is up.
    for (int i = 0; i < 1_000; i++) {
      idle.idle(0);
    }
    clock.now = start + SPIN + YIELD - 1;
    idle.idle(0);
    assertEquals(List.of(), parks);

    clock.now = start + SPIN + YIELD + 1;
    for (int i = 0; i < 5; i++) {
      idle.idle(0);
    }
    assertEquals(List.of(50_000L, 100_000L, 200_000L, 400_000L, 400_000L), parks);
  }

  @Test
  void newWorkStartsTheNextWaitFromTheSpinAgain() {
    AdaptiveIdleStrategy idle = strategy(SPIN, YIELD);
    idle.idle(1);
    idle.idle(0);
    clock.now += SPIN + YIELD;
    idle.idle(0);
    idle.idle(0);
    idle.idle(0);
    assertEquals(3, parks.size(), "parks once the spin and yield times are over");

    idle.idle(3);
    for (int i = 0; i < 100; i++) {
      idle.idle(0);
    }
    assertEquals(3, parks.size(), "spins and yields again after work");
  }

  @Test
  void aLinkQuietForLongerThanTheRecentWorkWindowParksAtOnce() {
    AdaptiveIdleStrategy idle = strategy(SPIN, YIELD);
    idle.idle(1);
    clock.now += RECENT + 1;
    idle.reset();
    idle.idle(0);
    assertEquals(List.of(MIN_PARK), parks, "no spin, no yield: straight to the park");
  }

  @Test
  void aParkIsCutToTheCallersLimit() {
    AdaptiveIdleStrategy idle = strategy(0, 0);
    idle.idle(1_000L);
    idle.idle(1_000_000L);
    assertEquals(List.of(1_000L, 100_000L), parks);
  }

  @Test
  void withoutSpinItYieldsFirst() {
    AdaptiveIdleStrategy idle = strategy(0, YIELD);
    idle.idle(1);
    long start = clock.now;
    idle.idle(0);
    assertEquals(List.of(), parks, "yielding");
    clock.now = start + YIELD;
    idle.idle(0);
    assertEquals(List.of(MIN_PARK), parks);
  }

  @Test
  void aYieldThatTakesLongerThanTheYieldPhaseTurnsYieldsOffForAWhile() {
    AdaptiveIdleStrategy idle = strategy(0, YIELD);
    idle.idle(1);
    // Every clock read is 150 µs after the last: as if each yield gave a CPU hog its time slice.
    clock.step = 150_000;
    idle.idle(0);
    assertEquals(List.of(), parks, "the slow yield itself");
    idle.idle(0);
    assertEquals(1, parks.size(), "parks after one slow yield");

    // The next waits, still within the penalty, skip yielding and park at once.
    clock.step = 0;
    idle.idle(1);
    idle.idle(0);
    assertEquals(2, parks.size(), "parks at once while yields are off");

    // After the penalty (100 yield phases past the slow yield) yields are tried again.
    clock.now += 100 * YIELD + 300_000;
    idle.idle(1);
    idle.idle(0);
    assertEquals(2, parks.size(), "yields again");
  }

  @Test
  void spinsOnlyWithFourCpusOrMore() {
    assertEquals(0, AdaptiveIdleStrategy.spinNsFor(1));
    assertEquals(0, AdaptiveIdleStrategy.spinNsFor(2));
    assertEquals(0, AdaptiveIdleStrategy.spinNsFor(3));
    assertEquals(AdaptiveIdleStrategy.DEFAULT_SPIN_NS, AdaptiveIdleStrategy.spinNsFor(4));
    assertEquals(AdaptiveIdleStrategy.DEFAULT_SPIN_NS, AdaptiveIdleStrategy.spinNsFor(64));
  }

  @Test
  void badSettingsAreRefusedNamingTheValues() {
    IllegalArgumentException negative =
        assertThrows(
            IllegalArgumentException.class,
            () -> new AdaptiveIdleStrategy(-1, 0, 0, 1, 1, ns -> {}, clock::read));
    assertEquals(
        "spinNs -1, yieldNs 0 and recentWorkNs 0 must not be negative", negative.getMessage());
    IllegalArgumentException parks =
        assertThrows(
            IllegalArgumentException.class,
            () -> new AdaptiveIdleStrategy(0, 0, 0, 10, 5, ns -> {}, clock::read));
    assertEquals("minParkNs 10 must be positive and at most maxParkNs 5", parks.getMessage());
  }
}
