package dev.weft.security;

import io.grpc.Metadata;

/**
 * How a join token travels: {@code authorization: Bearer weft1-...} on every call, the header any
 * gRPC tool can send ({@code grpcurl -H 'authorization: Bearer ...'}).
 */
public final class AuthMetadata {
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  public static final String BEARER = "Bearer ";

  private AuthMetadata() {}

  /** The bearer credential in {@code headers}, or null when there is none. */
  public static String bearer(Metadata headers) {
    String value = headers.get(AUTHORIZATION);
    if (value == null || !value.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return null;
    }
    return value.substring(BEARER.length()).strip();
  }
}
