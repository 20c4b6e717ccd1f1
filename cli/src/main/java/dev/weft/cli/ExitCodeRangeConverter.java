package dev.weft.cli;

import dev.weft.v1.ExitCodeRange;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** One exit code ({@code 2}) or a range of them ({@code 64-78}), each 0..255. */
final class ExitCodeRangeConverter implements ITypeConverter<ExitCodeRange> {
  private static final Pattern FORMAT = Pattern.compile("(\\d{1,9})(?:-(\\d{1,9}))?");
  private static final int MAX_EXIT_CODE = 255;

  @Override
  public ExitCodeRange convert(String value) {
    Matcher m = FORMAT.matcher(value.strip());
    if (!m.matches()) {
      throw new TypeConversionException(
          "'" + value + "' is not an exit code or a range of them; write for example 2,64-78");
    }
    int from = Integer.parseInt(m.group(1));
    int to = m.group(2) == null ? from : Integer.parseInt(m.group(2));
    if (to > MAX_EXIT_CODE) {
      throw new TypeConversionException("'" + value + "': exit codes are 0.." + MAX_EXIT_CODE);
    }
    if (from > to) {
      throw new TypeConversionException(
          "'"
              + value
              + "': a range goes from its lower code to its higher one, as in "
              + to
              + "-"
              + from);
    }
    return ExitCodeRange.newBuilder().setFrom(from).setTo(to).build();
  }
}
