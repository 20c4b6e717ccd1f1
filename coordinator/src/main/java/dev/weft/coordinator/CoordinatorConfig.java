package dev.weft.coordinator;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Everything a coordinator is started with. Fluent setters; {@link #conclude()} fills defaults and
 * checks the rules between fields before the coordinator uses it.
 */
public final class CoordinatorConfig {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 7070;

  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private long heartbeatIntervalMs = 2_000;
  private long leaseMs = 10_000;
  private int maxInboundMessageBytes = 16 * 1024 * 1024;
  private int maxTasksPerJob = 1_000_000;
  private int retainedFinishedJobs = 10_000;
  private Path dataDir;
  private Duration defaultGrace = Duration.ofSeconds(10);

  public CoordinatorConfig listen(String host, int port) {
    this.host = Objects.requireNonNull(host, "host");
    this.port = port;
    return this;
  }

  public CoordinatorConfig heartbeatIntervalMs(long value) {
    this.heartbeatIntervalMs = value;
    return this;
  }

  public CoordinatorConfig leaseMs(long value) {
    this.leaseMs = value;
    return this;
  }

  public CoordinatorConfig maxInboundMessageBytes(int value) {
    this.maxInboundMessageBytes = value;
    return this;
  }

  public CoordinatorConfig maxTasksPerJob(int value) {
    this.maxTasksPerJob = value;
    return this;
  }

  public CoordinatorConfig retainedFinishedJobs(int value) {
    this.retainedFinishedJobs = value;
    return this;
  }

  public CoordinatorConfig dataDir(Path value) {
    this.dataDir = value;
    return this;
  }

  public CoordinatorConfig defaultGrace(Duration value) {
    this.defaultGrace = Objects.requireNonNull(value, "defaultGrace");
    return this;
  }

  /** Checks the fields against each other; returns this for chaining. */
  public CoordinatorConfig conclude() {
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be 0..65535 (0 picks a free one), got " + port);
    }
    if (heartbeatIntervalMs <= 0) {
      throw new IllegalArgumentException(
          "heartbeatIntervalMs must be positive, got " + heartbeatIntervalMs);
    }
    if (leaseMs <= 2 * heartbeatIntervalMs) {
      throw new IllegalArgumentException(
          "leaseMs ("
              + leaseMs
              + ") must exceed twice heartbeatIntervalMs ("
              + heartbeatIntervalMs
              + ") so one lost heartbeat does not cost a worker its tasks");
    }
    if (maxInboundMessageBytes < 64 * 1024) {
      throw new IllegalArgumentException(
          "maxInboundMessageBytes must be at least 65536, got " + maxInboundMessageBytes);
    }
    if (maxTasksPerJob < 1) {
      throw new IllegalArgumentException(
          "maxTasksPerJob must be at least 1, got " + maxTasksPerJob);
    }
    if (defaultGrace.isNegative()) {
      throw new IllegalArgumentException("defaultGrace must not be negative, got " + defaultGrace);
    }
    return this;
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  public long heartbeatIntervalMs() {
    return heartbeatIntervalMs;
  }

  public long leaseMs() {
    return leaseMs;
  }

  public int maxInboundMessageBytes() {
    return maxInboundMessageBytes;
  }

  public int maxTasksPerJob() {
    return maxTasksPerJob;
  }

  public int retainedFinishedJobs() {
    return retainedFinishedJobs;
  }

  /** Where the journal lives; null keeps jobs in memory only. */
  public Path dataDir() {
    return dataDir;
  }

  public Duration defaultGrace() {
    return defaultGrace;
  }
}
