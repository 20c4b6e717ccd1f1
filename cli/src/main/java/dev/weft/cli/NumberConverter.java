package dev.weft.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Whole numbers that may be grouped with underscores, as in Java: {@code 1_000_000_000}. */
final class NumberConverter implements ITypeConverter<Long> {
  @Override
  public Long convert(String value) {
    String digits = value.strip();
    if (!digits.matches("[+-]?\\d+(?:_+\\d+)*")) {
      throw invalid(value);
    }
    try {
      return Long.parseLong(digits.replace("_", ""));
    } catch (NumberFormatException e) {
      throw invalid(value);
    }
  }

  private static TypeConversionException invalid(String value) {
    return new TypeConversionException(
        "'"
            + value
            + "' is not a whole number from "
            + Long.MIN_VALUE
            + " to "
            + Long.MAX_VALUE
            + " (underscores may group digits: 1_000_000)");
  }
}
