package dev.weft.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Durations as people write them: {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h30m}, {@code
 * 7d}.
 */
final class DurationConverter implements ITypeConverter<Duration> {
  private static final Pattern FORMAT =
      Pattern.compile(
          "(?:(\\d{1,6})d)?(?:(\\d{1,9})h)?(?:(\\d{1,9})m)?(?:(\\d{1,9})s)?(?:(\\d{1,12})ms)?");

  @Override
  public Duration convert(String value) {
    return parse(value);
  }

  static Duration parse(String value) {
    String text = value.strip();
    if (text.startsWith("-")) {
      throw new TypeConversionException(
          "'"
              + value
              + "' is negative; write a duration of 0 or more, for example 250ms, 30s, 5m, 1h or"
              + " 1h30m");
    }
    Matcher m = FORMAT.matcher(text);
    if (text.isEmpty() || !m.matches()) {
      throw new TypeConversionException(
          "'"
              + value
              + "' is not a duration; write a number with a unit d, h, m, s or ms,"
              + " for example 250ms, 30s, 5m, 1h or 1h30m");
    }
    return Duration.ofDays(group(m, 1))
        .plusHours(group(m, 2))
        .plusMinutes(group(m, 3))
        .plusSeconds(group(m, 4))
        .plusMillis(group(m, 5));
  }

  private static long group(Matcher m, int group) {
    String digits = m.group(group);
    return digits == null ? 0 : Long.parseLong(digits);
  }

  /** The shortest form that {@link #parse} reads back, for messages and help. */
  static String format(Duration d) {
    if (d.isZero()) {
      return "0s";
    }
    StringBuilder out = new StringBuilder();
    if (d.toDays() > 0) {
      out.append(d.toDays()).append('d');
    }
    if (d.toHoursPart() > 0) {
      out.append(d.toHoursPart()).append('h');
    }
    if (d.toMinutesPart() > 0) {
      out.append(d.toMinutesPart()).append('m');
    }
    if (d.toSecondsPart() > 0) {
      out.append(d.toSecondsPart()).append('s');
    }
    if (d.toMillisPart() > 0) {
      out.append(d.toMillisPart()).append("ms");
    }
    return out.toString();
  }
}
