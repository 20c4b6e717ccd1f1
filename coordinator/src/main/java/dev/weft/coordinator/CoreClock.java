package dev.weft.coordinator;

/**
 * The coordinator core's time, read once per duty cycle by the {@link Conductor}: nothing in the
 * core reads the system clocks itself, so tests set the time by hand.
 */
interface CoreClock {

  /** Monotonic nanoseconds, for deadlines and durations. */
  long nanoTime();

  /** Unix milliseconds, for what jobs record and show. */
  long epochMs();
}
