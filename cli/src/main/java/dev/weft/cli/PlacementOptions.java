package dev.weft.cli;

import dev.weft.v1.JobSpec;
import dev.weft.v1.LabelRequirement;
import dev.weft.v1.Resources;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/**
 * Where and when a job's tasks run: its priority class and weight, what each task needs of its
 * worker, and the labels the worker must carry. Shared by every {@code weft submit KIND}.
 */
final class PlacementOptions {
  private static final Pattern NAME_AMOUNT =
      Pattern.compile("([A-Za-z0-9][A-Za-z0-9._/-]*)=(\\d+)");
  private static final Pattern REQUIREMENT =
      Pattern.compile("([A-Za-z0-9][A-Za-z0-9._/-]*)(!=|=)(.*)");

  @Option(
      names = "--priority",
      paramLabel = "N",
      description =
          "Priority class: jobs of a higher class get free slots before any of a lower one;"
              + " within a class slots are shared fairly by owner, then by job weight (default: 0).")
  private Integer priority;

  @Option(
      names = "--weight",
      paramLabel = "W",
      description =
          "This job's share among its owner's jobs of its class: weight 2 gets twice the slots of"
              + " weight 1 (default: 1).")
  private Double weight;

  @Option(
      names = "--cpus",
      paramLabel = "N",
      description =
          "CPUs each task needs of its worker, e.g. 2 or 0.5; where the worker makes task cgroups,"
              + " cpu.max holds the task to it (default: none asked).")
  private String cpus;

  @Option(
      names = "--mem",
      paramLabel = "SIZE",
      converter = SizeConverter.class,
      description =
          "Memory each task needs, e.g. 512m or 2g; where the worker makes task cgroups,"
              + " memory.max holds the task to it and a task beyond it is OOM-killed (default: none"
              + " asked).")
  private Long mem;

  @Option(
      names = "--gpus",
      paramLabel = "N",
      description =
          "GPUs each task needs; the worker's GPUs are given by index (CUDA_VISIBLE_DEVICES).")
  private Integer gpus;

  @Option(
      names = "--resource",
      paramLabel = "NAME=N",
      description =
          "Units of a resource the workers advertise with --resources NAME=N that each task"
              + " needs; repeatable.")
  private List<String> custom = List.of();

  @Option(
      names = "--require",
      paramLabel = "KEY=VALUE",
      description =
          "Run only on workers with this label (KEY!=VALUE: not with it); repeatable, all must"
              + " hold.")
  private List<String> requires = List.of();

  @Option(
      names = "--strict",
      description =
          "Refuse the job at once when no attached worker could ever run its tasks (labels, kind"
              + " or size), instead of letting it wait for one.")
  private boolean strict;

  void apply(JobSpec.Builder spec) {
    if (priority != null) {
      spec.setPriority(priority);
    }
    if (weight != null) {
      if (!(weight > 0) || weight.isInfinite()) {
        throw CliException.usage("--weight must be a number above 0, got " + weight);
      }
      spec.setWeight(weight);
    }
    Resources.Builder resources = Resources.newBuilder();
    if (cpus != null) {
      resources.setCpuMillis(cpuMillis("--cpus", cpus));
    }
    if (mem != null) {
      if (mem < 1) {
        throw CliException.usage("--mem must be above 0, got " + mem);
      }
      resources.setMemBytes(mem);
    }
    if (gpus != null) {
      if (gpus < 1) {
        throw CliException.usage("--gpus must be at least 1, got " + gpus);
      }
      resources.setGpus(gpus);
    }
    Map<String, Long> named = new LinkedHashMap<>();
    for (String value : custom) {
      Matcher m = NAME_AMOUNT.matcher(value.strip());
      if (!m.matches()) {
        throw CliException.usage(
            "--resource takes NAME=N with N a whole number (e.g. licence=1), got '" + value + "'");
      }
      if (named.put(m.group(1), Long.parseLong(m.group(2))) != null) {
        throw CliException.usage("--resource " + m.group(1) + " is given twice");
      }
    }
    resources.putAllCustom(named);
    if (!resources.build().equals(Resources.getDefaultInstance())) {
      spec.setResources(resources);
    }
    for (String value : requires) {
      Matcher m = REQUIREMENT.matcher(value.strip());
      if (!m.matches()) {
        throw CliException.usage(
            "--require takes KEY=VALUE or KEY!=VALUE (e.g. zone=b, gpu!=none), got '"
                + value
                + "'");
      }
      spec.addRequires(
          LabelRequirement.newBuilder()
              .setKey(m.group(1))
              .setValue(m.group(3))
              .setNotEqual(m.group(2).equals("!=")));
    }
    spec.setStrict(strict);
  }

  /** A count of CPUs, whole or with up to three decimals, in thousandths. */
  static long cpuMillis(String option, String value) {
    try {
      BigDecimal cpus = new BigDecimal(value.strip());
      if (cpus.signum() <= 0
          || cpus.scale() > 3
          || cpus.compareTo(BigDecimal.valueOf(1_000_000)) > 0) {
        throw new NumberFormatException();
      }
      return cpus.movePointRight(3).longValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw CliException.usage(
          option
              + " takes a number of CPUs above 0 with at most three decimals (e.g. 2 or 0.5), got '"
              + value
              + "'");
    }
  }
}
