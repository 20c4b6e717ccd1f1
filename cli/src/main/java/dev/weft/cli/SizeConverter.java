package dev.weft.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Byte sizes: a number with an optional unit k, m or g (also kb, kib, ...). Units are powers of
 * 1024, as in the JVM's {@code -Xmx}: {@code 64k} is 65536 bytes.
 */
final class SizeConverter implements ITypeConverter<Long> {
  private static final Pattern FORMAT =
      Pattern.compile("(\\d{1,18})\\s*(?:([kmg])(?:i?b)?|b)?", Pattern.CASE_INSENSITIVE);

  @Override
  public Long convert(String value) {
    return parse(value);
  }

  static long parse(String value) {
    Matcher m = FORMAT.matcher(value.strip());
    if (!m.matches()) {
      throw invalid(value);
    }
    long number = Long.parseLong(m.group(1));
    int shift =
        m.group(2) == null
            ? 0
            : switch (m.group(2).toLowerCase(Locale.ROOT)) {
              case "k" -> 10;
              case "m" -> 20;
              default -> 30;
            };
    if (number > (Long.MAX_VALUE >> shift)) {
      throw invalid(value);
    }
    return number << shift;
  }

  private static TypeConversionException invalid(String value) {
    return new TypeConversionException(
        "'"
            + value
            + "' is not a size; write bytes with an optional unit k, m or g (powers of 1024),"
            + " for example 4096, 64k, 1m or 1MiB");
  }
}
