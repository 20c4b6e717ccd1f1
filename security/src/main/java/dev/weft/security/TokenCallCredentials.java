package dev.weft.security;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.SecurityLevel;
import io.grpc.Status;
import java.util.concurrent.Executor;

/** Puts the join token on every call, and only on connections that TLS protects. */
final class TokenCallCredentials extends CallCredentials {
  private final String header;

  TokenCallCredentials(JoinToken token) {
    this.header = AuthMetadata.BEARER + token.text();
  }

  @Override
  public void applyRequestMetadata(
      RequestInfo info, Executor appExecutor, MetadataApplier applier) {
    if (info.getSecurityLevel() != SecurityLevel.PRIVACY_AND_INTEGRITY) {
      applier.fail(
          Status.UNAUTHENTICATED.withDescription(
              "refusing to send the join token over a connection without TLS"));
      return;
    }
    Metadata headers = new Metadata();
    headers.put(AuthMetadata.AUTHORIZATION, header);
    applier.apply(headers);
  }
}
