package dev.weft.kinds;

import dev.weft.v1.JobSpec;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

/** The job kinds on a class path: the built-ins and any plugin found by {@link ServiceLoader}. */
public final class JobKinds {
  /**
   * The most tasks one job may have, whatever its kind: bounds the coordinator's per-job state and
   * the size of a kind's plan.
   */
  public static final int MAX_TASKS = 1_000_000;

  private final Map<String, JobKind> byName;

  private JobKinds(Map<String, JobKind> byName) {
    this.byName = Collections.unmodifiableMap(byName);
  }

  /** Loads every {@link JobKind} visible to {@code loader}. Duplicate names are a packaging bug. */
  public static JobKinds load(ClassLoader loader) {
    Map<String, JobKind> kinds = new TreeMap<>();
    for (JobKind kind : ServiceLoader.load(JobKind.class, loader)) {
      JobKind previous = kinds.putIfAbsent(kind.name(), kind);
      if (previous != null) {
        throw new IllegalStateException(
            "two job kinds are named '"
                + kind.name()
                + "': "
                + previous.getClass().getName()
                + " and "
                + kind.getClass().getName());
      }
    }
    return new JobKinds(kinds);
  }

  /** The given kinds, by name; {@link PluginDir} checks them for clashes first. */
  static JobKinds of(Map<String, JobKind> byName) {
    return new JobKinds(new TreeMap<>(byName));
  }

  Map<String, JobKind> byName() {
    return byName;
  }

  public static JobKinds load() {
    return load(JobKinds.class.getClassLoader());
  }

  public Optional<JobKind> find(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  public Set<String> names() {
    return byName.keySet();
  }

  /** The kind a spec asks for, or an error naming the kinds that exist. */
  public JobKind kindOf(JobSpec spec) throws InvalidJobException {
    String name = kindName(spec);
    if (name.isEmpty()) {
      throw new InvalidJobException(
          "params",
          "a job needs parameters of one kind; known kinds: " + String.join(", ", names()));
    }
    JobKind kind = byName.get(name);
    if (kind == null) {
      throw new InvalidJobException(
          spec.hasPlugin() ? "plugin.kind" : "params",
          "unknown kind '" + name + "'; known kinds: " + String.join(", ", names()));
    }
    return kind;
  }

  /** The kind a spec names: its params field, or a plugin's own name; empty when unset. */
  public static String kindName(JobSpec spec) {
    return switch (spec.getParamsCase()) {
      case PARAMS_NOT_SET -> "";
      case PLUGIN -> spec.getPlugin().getKind();
      default -> spec.getParamsCase().name().toLowerCase(Locale.ROOT);
    };
  }
}
