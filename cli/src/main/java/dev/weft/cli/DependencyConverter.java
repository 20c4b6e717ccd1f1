package dev.weft.cli;

import dev.weft.v1.Dependency;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * A job to wait for: {@code JOB} or {@code JOB:ok} (run only if it succeeded) or {@code JOB:any}
 * (run whatever its end).
 */
final class DependencyConverter implements ITypeConverter<Dependency> {

  @Override
  public Dependency convert(String value) {
    String text = value.strip();
    int colon = text.lastIndexOf(':');
    String id = colon < 0 ? text : text.substring(0, colon);
    String when = colon < 0 ? "ok" : text.substring(colon + 1);
    if (id.isEmpty() || !(when.equals("ok") || when.equals("any"))) {
      throw new TypeConversionException(
          "'"
              + value
              + "': write JOB, JOB:ok (run only if JOB succeeded) or JOB:any (run whatever its"
              + " end), with JOB a job id as `weft jobs` lists them");
    }
    return Dependency.newBuilder().setJobId(id).setAny(when.equals("any")).build();
  }
}
