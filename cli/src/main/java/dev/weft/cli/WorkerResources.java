package dev.weft.cli;

import dev.weft.worker.WorkerConfig;
import java.math.BigDecimal;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * What {@code weft worker --resources cpu=N,mem=SIZE,gpu=N,NAME=N} offers the worker's tasks; what
 * it leaves out keeps the worker's default.
 *
 * @param cpuMillis thousandths of a CPU: {@code cpu=2}, {@code cpu=1.5} or {@code cpu=500m}
 * @param memBytes {@code mem=SIZE}, as {@link SizeConverter} reads it
 * @param gpus {@code gpu=N}
 * @param custom the operator's own resources, in units of their own, in the order given
 */
record WorkerResources(
    OptionalLong cpuMillis, OptionalLong memBytes, OptionalInt gpus, Map<String, Long> custom) {
  private static final Pattern ENTRY = Pattern.compile("([^=\\s]+)\\s*=\\s*(.*)");
  private static final Pattern CPUS = Pattern.compile("\\d{1,12}(?:\\.\\d+)?");
  private static final Pattern MILLI_CPUS = Pattern.compile("(\\d{1,15})m");
  private static final Pattern COUNT = Pattern.compile("\\d{1,18}");

  WorkerResources {
    custom = Collections.unmodifiableMap(new LinkedHashMap<>(custom));
  }

  /** Sets what was given on {@code config}, which checks the names of custom resources. */
  void applyTo(WorkerConfig config) {
    cpuMillis.ifPresent(config::cpuMillis);
    memBytes.ifPresent(config::memBytes);
    gpus.ifPresent(config::gpus);
    custom.forEach(config::resource);
  }

  static WorkerResources parse(String text) {
    OptionalLong cpu = OptionalLong.empty();
    OptionalLong mem = OptionalLong.empty();
    OptionalInt gpu = OptionalInt.empty();
    Map<String, Long> custom = new LinkedHashMap<>();
    for (String part : text.split(",", -1)) {
      String entry = part.strip();
      Matcher m = ENTRY.matcher(entry);
      if (!m.matches()) {
        throw invalid(
            text,
            (entry.isEmpty() ? "an entry is empty" : "'" + entry + "' is not NAME=AMOUNT")
                + "; write cpu=N,mem=SIZE,gpu=N,NAME=N, for example cpu=4,mem=8g");
      }
      String name = m.group(1);
      String value = m.group(2).strip();
      String builtIn = name.toLowerCase(Locale.ROOT);
      boolean repeated =
          switch (builtIn) {
            case "cpu" -> cpu.isPresent();
            case "mem" -> mem.isPresent();
            case "gpu" -> gpu.isPresent();
            default -> custom.containsKey(name);
          };
      if (repeated) {
        throw invalid(text, name + " is given twice");
      }
      switch (builtIn) {
        case "cpu" -> cpu = OptionalLong.of(cpuMillis(text, value));
        case "mem" -> mem = OptionalLong.of(memBytes(text, value));
        case "gpu" -> gpu = OptionalInt.of((int) count(text, name, value, Integer.MAX_VALUE));
        default -> custom.put(name, count(text, name, value, Long.MAX_VALUE));
      }
    }
    WorkerResources resources = new WorkerResources(cpu, mem, gpu, custom);
    try {
      // The names of custom resources follow WorkerConfig's rules: checked once, there.
      resources.applyTo(new WorkerConfig());
    } catch (IllegalArgumentException e) {
      throw invalid(text, e.getMessage());
    }
    return resources;
  }

  private static long cpuMillis(String text, String value) {
    Matcher milli = MILLI_CPUS.matcher(value);
    if (milli.matches()) {
      return Long.parseLong(milli.group(1));
    }
    if (!CPUS.matcher(value).matches()) {
      throw invalid(
          text,
          "cpu="
              + value
              + " is not a number of CPUs; write one such as 2, 1.5 or 500m (thousandths)");
    }
    BigDecimal cpus = new BigDecimal(value);
    if (cpus.scale() > 3) {
      throw invalid(text, "cpu=" + value + " is finer than a thousandth of a CPU");
    }
    return cpus.movePointRight(3).longValueExact();
  }

  private static long memBytes(String text, String value) {
    try {
      return SizeConverter.parse(value);
    } catch (TypeConversionException e) {
      throw invalid(text, "mem=" + value + ": " + e.getMessage());
    }
  }

  private static long count(String text, String name, String value, long max) {
    if (!COUNT.matcher(value).matches() || Long.parseLong(value) > max) {
      throw invalid(text, name + "=" + value + " is not a whole number from 0 to " + max);
    }
    return Long.parseLong(value);
  }

  private static TypeConversionException invalid(String text, String why) {
    return new TypeConversionException("'" + text + "': " + why);
  }

  static final class Converter implements ITypeConverter<WorkerResources> {
    @Override
    public WorkerResources convert(String value) {
      return parse(value);
    }
  }
}
