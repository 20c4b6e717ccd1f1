package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.wire.Address;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine.TypeConversionException;

/** Durations, sizes, numbers and addresses as users type them. */
final class ConvertersTest {

  @Test
  void durations() {
    assertEquals(Duration.ofMillis(250), DurationConverter.parse("250ms"));
    assertEquals(Duration.ofSeconds(30), DurationConverter.parse("30s"));
    assertEquals(Duration.ofMinutes(5), DurationConverter.parse("5m"));
    assertEquals(Duration.ofHours(1), DurationConverter.parse("1h"));
    assertEquals(Duration.ofMinutes(90), DurationConverter.parse("1h30m"));
    assertEquals(Duration.ofMillis(2_500), DurationConverter.parse("2s500ms"));
    assertEquals(Duration.ofDays(7), DurationConverter.parse("7d"));
    assertEquals(Duration.ofHours(36), DurationConverter.parse("1d12h"));
    assertEquals(Duration.ZERO, DurationConverter.parse("0s"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "5", "1.5s", "-3s", "1w", "12h1d", "s", "30m1h", "1 h", "ms", "5sec"})
  void durationsOtherwiseAreRefusedWithTheAllowedForms(String text) {
    TypeConversionException e =
        assertThrows(TypeConversionException.class, () -> DurationConverter.parse(text));
    assertTrue(e.getMessage().contains("250ms, 30s, 5m, 1h or 1h30m"), e.getMessage());
  }

  @Test
  void negativeDurationsAreCalledSo() {
    TypeConversionException e =
        assertThrows(TypeConversionException.class, () -> DurationConverter.parse("-3s"));
    assertEquals(
        "'-3s' is negative; write a duration of 0 or more, for example 250ms, 30s, 5m, 1h or 1h30m",
        e.getMessage());
  }

  @Test
  void durationsFormatBackToWhatParses() {
    for (String text :
        new String[] {"250ms", "30s", "5m", "1h", "1h30m", "2s500ms", "0s", "7d", "1d12h"}) {
      assertEquals(text, DurationConverter.format(DurationConverter.parse(text)));
    }
  }

  @Test
  void sizes() {
    assertEquals(4096, SizeConverter.parse("4096"));
    assertEquals(100, SizeConverter.parse("100b"));
    assertEquals(65_536, SizeConverter.parse("64k"));
    assertEquals(65_536, SizeConverter.parse("64KB"));
    assertEquals(1 << 20, SizeConverter.parse("1m"));
    assertEquals(1 << 20, SizeConverter.parse("1MiB"));
    assertEquals(3L << 30, SizeConverter.parse("3g"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "k", "1.5m", "-1", "1t", "lots", "99999999999g"})
  void sizesOtherwiseAreRefused(String text) {
    TypeConversionException e =
        assertThrows(TypeConversionException.class, () -> SizeConverter.parse(text));
    assertTrue(e.getMessage().contains("64k, 1m or 1MiB"), e.getMessage());
  }

  @Test
  void numbersMayBeGroupedWithUnderscores() {
    NumberConverter numbers = new NumberConverter();
    assertEquals(1_000_000_000L, numbers.convert("1_000_000_000"));
    assertEquals(-5L, numbers.convert("-5"));
    assertEquals(Long.MAX_VALUE, numbers.convert(Long.toString(Long.MAX_VALUE)));
    assertThrows(TypeConversionException.class, () -> numbers.convert("1e9"));
    assertThrows(TypeConversionException.class, () -> numbers.convert("_1"));
    assertThrows(TypeConversionException.class, () -> numbers.convert("9223372036854775808"));
  }

  @Test
  void addresses() {
    assertEquals(new Address("127.0.0.1", 7070), Address.parse("127.0.0.1:7070", false));
    assertEquals(new Address("::1", 7070), Address.parse("[::1]:7070", false));
    assertEquals("[::1]:7070", Address.parse("[::1]:7070", false).toString());
    assertEquals(0, Address.parse("0.0.0.0:0", true).port());
    for (String bad :
        new String[] {"localhost", ":7070", "host:", "host:x", "host:70000", "::1:1"}) {
      assertThrows(IllegalArgumentException.class, () -> Address.parse(bad, false), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> Address.parse("host:0", false));
  }
}
