package dev.weft.client;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/**
 * The {@code weft} command's properties file, as far as a client reads it: its bare keys ({@code
 * coordinator}, {@code token}, {@code tls-ca}, ...). The file is {@code $WEFT_CONFIG}, else a
 * distribution's (system property {@code weft.config.dist}), else {@code
 * $XDG_CONFIG_HOME/weft/weft.properties} ({@code ~/.config/weft/weft.properties}) when it exists;
 * with the system property {@code weft.config.search=false} only {@code $WEFT_CONFIG} is read.
 */
final class ConfigFile {
  private ConfigFile() {}

  /** The file's keys and values; empty when there is no file. */
  static Properties read(Map<String, String> env, Properties system) {
    Path file = locate(env, system);
    Properties properties = new Properties();
    if (file == null) {
      return properties;
    }
    try {
      properties.load(new StringReader(Files.readString(file, StandardCharsets.ISO_8859_1)));
      return properties;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the config file " + file + ": " + e, e);
    }
  }

  private static Path locate(Map<String, String> env, Properties system) {
    String named = env.get("WEFT_CONFIG");
    if (named != null && !named.isBlank()) {
      Path file = Path.of(named);
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException(
            "the config file " + file + " (WEFT_CONFIG) does not exist");
      }
      return file;
    }
    if ("false".equals(system.getProperty("weft.config.search"))) {
      return null;
    }
    String dist = system.getProperty("weft.config.dist");
    if (dist != null && Files.isRegularFile(Path.of(dist))) {
      return Path.of(dist);
    }
    String xdg = env.get("XDG_CONFIG_HOME");
    Path base =
        xdg != null && !xdg.isBlank()
            ? Path.of(xdg)
            : Path.of(system.getProperty("user.home", "/"), ".config");
    Path file = base.resolve("weft").resolve("weft.properties");
    return Files.isRegularFile(file) ? file : null;
  }
}
