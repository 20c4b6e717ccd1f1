package dev.weft.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * Facts Maven stamps into {@code build.properties}: the version, and the JVM flags weft runs with
 * (the root pom's {@code weft.jvm.flags}; worker processes started by weft get the same).
 */
final class BuildInfo {
  private static final List<String> FALLBACK_JVM_FLAGS =
      List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow");

  private BuildInfo() {}

  static String version() {
    return read().getProperty("version", "unknown");
  }

  static List<String> jvmFlags() {
    String flags = read().getProperty("jvm.flags", "").strip();
    // Unfiltered (run from an IDE without Maven's resource step): use what weft needs at least.
    if (flags.isEmpty() || flags.contains("${")) {
      return FALLBACK_JVM_FLAGS;
    }
    return Arrays.asList(flags.split("\\s+"));
  }

  private static Properties read() {
    Properties properties = new Properties();
    try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
      if (in != null) {
        properties.load(in);
      }
      return properties;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read build.properties from the class path", e);
    }
  }
}
