package dev.weft.coordinator.security;

import com.google.common.net.InetAddresses;
import dev.weft.local.HostIdentity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.UnknownHostException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;

/**
 * The subject alternative names of a server certificate: the DNS names and IP addresses clients may
 * use to reach the coordinator, as they check them (TLS host name verification).
 */
record SubjectNames(SortedSet<String> dnsNames, SortedSet<String> addresses) {
  private static final Pattern DNS_NAME =
      Pattern.compile(
          "(\\*\\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");
  private static final int SAN_DNS = 2;
  private static final int SAN_IP = 7;

  SubjectNames {
    dnsNames = new TreeSet<>(dnsNames);
    addresses = new TreeSet<>(addresses);
  }

  /**
   * What a coordinator listening on {@code host} must cover: that address (and {@code localhost}
   * for a loopback one); for a wildcard ({@code 0.0.0.0}, {@code ::}) the host name, {@code
   * localhost} and every address of every interface that is up (link-local ones aside, which need a
   * scope); for a name, the name and what it resolves to. Plus {@code extra}.
   */
  static SubjectNames forListenHost(String host, List<String> extra) throws IOException {
    String bare =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    SortedSet<String> dns = new TreeSet<>();
    SortedSet<String> ips = new TreeSet<>();
    if (bare.isEmpty() || InetAddresses.isInetAddress(bare)) {
      InetAddress address = bare.isEmpty() ? null : InetAddresses.forString(bare);
      if (address == null || address.isAnyLocalAddress()) {
        dns.add(HostIdentity.localHostname().toLowerCase(Locale.ROOT));
        dns.add("localhost");
        for (NetworkInterface nic : NetworkInterface.networkInterfaces().toList()) {
          if (nic.isUp()) {
            nic.inetAddresses()
                .filter(a -> !a.isLinkLocalAddress())
                .forEach(a -> ips.add(normalize(a)));
          }
        }
      } else {
        ips.add(normalize(address));
        if (address.isLoopbackAddress()) {
          dns.add("localhost");
        }
      }
    } else {
      dns.add(bare.toLowerCase(Locale.ROOT));
      try {
        for (InetAddress address : InetAddress.getAllByName(bare)) {
          ips.add(normalize(address));
        }
      } catch (UnknownHostException e) {
        // The name alone, then; binding it fails anyway and says so.
      }
    }
    for (String name : extra) {
      checkName(name);
      if (InetAddresses.isInetAddress(name)) {
        ips.add(normalize(InetAddresses.forString(name)));
      } else {
        dns.add(name.toLowerCase(Locale.ROOT));
      }
    }
    return new SubjectNames(dns, ips);
  }

  /** The names in {@code certificate}'s subject alternative name extension. */
  static SubjectNames of(X509Certificate certificate) throws CertificateParsingException {
    SortedSet<String> dns = new TreeSet<>();
    SortedSet<String> ips = new TreeSet<>();
    Collection<List<?>> names = certificate.getSubjectAlternativeNames();
    if (names != null) {
      for (List<?> name : names) {
        int type = (Integer) name.get(0);
        String value = String.valueOf(name.get(1));
        if (type == SAN_DNS) {
          dns.add(value.toLowerCase(Locale.ROOT));
        } else if (type == SAN_IP && InetAddresses.isInetAddress(value)) {
          ips.add(normalize(InetAddresses.forString(value)));
        }
      }
    }
    return new SubjectNames(dns, ips);
  }

  /** Whether a client that joins {@code host} accepts a certificate with these names. */
  boolean covers(String host) {
    String bare =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (InetAddresses.isInetAddress(bare)) {
      return addresses.contains(normalize(InetAddresses.forString(bare)));
    }
    String name = bare.toLowerCase(Locale.ROOT);
    if (dnsNames.contains(name)) {
      return true;
    }
    int dot = name.indexOf('.');
    return dot > 0 && dnsNames.contains("*" + name.substring(dot));
  }

  /** The first name a client could check instead of the one it joins; null when there is none. */
  String first() {
    return !dnsNames.isEmpty() ? dnsNames.first() : addresses.isEmpty() ? null : addresses.first();
  }

  GeneralNames toGeneralNames() {
    List<GeneralName> names = new ArrayList<>();
    dnsNames.forEach(name -> names.add(new GeneralName(GeneralName.dNSName, name)));
    addresses.forEach(address -> names.add(new GeneralName(GeneralName.iPAddress, address)));
    return new GeneralNames(names.toArray(GeneralName[]::new));
  }

  /** Refuses what is neither an IP address nor a DNS name, naming it. */
  static void checkName(String name) {
    if (InetAddresses.isInetAddress(name)) {
      return;
    }
    if (name.length() > 253 || !DNS_NAME.matcher(name.toLowerCase(Locale.ROOT)).matches()) {
      throw new IllegalArgumentException(
          "--tls-san: '" + name + "' is neither an IP address nor a DNS name");
    }
  }

  private static String normalize(InetAddress address) {
    // Without the scope (%eth0) that getHostAddress() may add: certificates carry none.
    return InetAddresses.toAddrString(address).replaceFirst("%.*$", "");
  }

  @Override
  public String toString() {
    List<String> all = new ArrayList<>(dnsNames);
    all.addAll(addresses);
    return String.join(", ", all);
  }
}
