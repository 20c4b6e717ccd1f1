package dev.weft.cli;

import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import java.util.function.Function;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** The picocli converters of addresses: a bad one is a usage error with the parser's message. */
final class AddressConverters {
  private AddressConverters() {}

  private static <T> T convert(String value, Function<String, T> parse) {
    try {
      return parse.apply(value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }

  /** For client options: the coordinator's address, {@code HOST:PORT}. */
  static final class HostPort implements ITypeConverter<Address> {
    @Override
    public Address convert(String value) {
      return AddressConverters.convert(value, text -> Address.parse(text, false));
    }
  }

  /** For server options: port 0 picks a free port. */
  static final class Listen implements ITypeConverter<Address> {
    @Override
    public Address convert(String value) {
      return AddressConverters.convert(value, text -> Address.parse(text, true));
    }
  }

  /** For {@code --join}: {@code HOST:PORT[,HOST:PORT...]}. */
  static final class Join implements ITypeConverter<Addresses> {
    @Override
    public Addresses convert(String value) {
      return AddressConverters.convert(value, text -> Addresses.parse(text, false));
    }
  }

  /** For {@code --coordinator}: {@code HOST:PORT[,HOST:PORT...]} or {@code unix:PATH}. */
  static final class Coordinators implements ITypeConverter<Addresses> {
    @Override
    public Addresses convert(String value) {
      return AddressConverters.convert(value, text -> Addresses.parse(text, true));
    }
  }
}
