"""Where the coordinator is and how to talk to it, found as the weft CLI finds them.

Address: the ``address`` argument, else $WEFT_COORDINATOR, else the config file's ``coordinator``
key, else 127.0.0.1:7070. Several addresses ("a:7070,b:7070") name the coordinators of a
high-availability pair. ``unix:PATH`` is a coordinator's Unix socket (no token: it knows the caller
by uid).

Credentials: ``token=``, else $WEFT_TOKEN, else the config file's ``token``; likewise ca_file
($WEFT_TLS_CA, ``tls-ca``), cert_file/key_file ($WEFT_TLS_CERT/KEY), server_name
($WEFT_TLS_SERVER_NAME). With none of token, CA file or insecure given and a loopback address,
this user's coordinator serving that port is looked up in its registry ($XDG_RUNTIME_DIR/weft/,
else /tmp/weft-UID/, port-PORT): its Unix socket when this user may connect to it, else its admin
token (DATA_DIR/security/admin-token). With nothing found, nothing is sent to the port.

TLS: a weft token is ``weft1-<SHA-256 of the coordinator's CA certificate>-<secret>``. grpcio
cannot take a pin, only root certificates, so before the first call to an address the client does
a TLS handshake of its own with it (sending nothing else: no token, no request), takes the chain
the coordinator presents, and picks the certificate whose SHA-256 equals the pin. That certificate,
authenticated by its hash alone, becomes the only root the gRPC channel trusts: grpc then verifies
the whole chain (signatures, validity, the host name) against it, as the Java client's
CoordinatorTrustManager does. A coordinator that presents no certificate with the pin is refused
before any token leaves the process.
"""

import hashlib
import ipaddress
import os
import socket
import ssl
import stat

from ._errors import CertificateRejected, ConfigurationError, Unavailable

DEFAULT_ADDRESS = "127.0.0.1:7070"
TOKEN_PREFIX = "weft1-"


def read_properties(path):
    """A Java .properties file, as far as weft's config files use it."""
    props = {}
    with open(path, encoding="latin-1") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        key, value, j = "", "", 0
        while j < len(line) and line[j] not in "=: \t":
            key += line[j + 1] if line[j] == "\\" and j + 1 < len(line) else line[j]
            j += 2 if line[j] == "\\" else 1
        value = line[j:].lstrip(" \t")
        if value[:1] in ("=", ":"):
            value = value[1:].lstrip(" \t")
        props[key] = value.strip()
    return props


def config_file(explicit=None):
    """The config file the CLI would read (``--config``, $WEFT_CONFIG, the XDG one), or None."""
    path = explicit or os.environ.get("WEFT_CONFIG")
    if path:
        if not os.path.isfile(path):
            raise ConfigurationError("config file %s does not exist" % path)
        return path
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = os.path.join(xdg, "weft", "weft.properties")
    return path if os.path.isfile(path) else None


class Settings:
    """The resolved address list and credentials options (not yet the registry lookup)."""

    def __init__(self, address=None, token=None, ca_file=None, cert_file=None, key_file=None,
                 server_name=None, insecure=False, config=None):
        path = config_file(config)
        props = read_properties(path) if path else {}

        def pick(value, env, key):
            if value not in (None, ""):
                return value
            if os.environ.get(env):
                return os.environ[env]
            return props.get(key) or None

        address = pick(address, "WEFT_COORDINATOR", "coordinator") or DEFAULT_ADDRESS
        if isinstance(address, (list, tuple)):
            addresses = [a.strip() for a in address if a.strip()]
        else:
            addresses = [a.strip() for a in address.split(",") if a.strip()]
        if not addresses:
            raise ConfigurationError("no coordinator address given")
        self.addresses = [check_address(a) for a in addresses]
        self.token = pick(token, "WEFT_TOKEN", "token")
        self.ca_file = pick(ca_file, "WEFT_TLS_CA", "tls-ca")
        self.cert_file = pick(cert_file, "WEFT_TLS_CERT", "tls-cert")
        self.key_file = pick(key_file, "WEFT_TLS_KEY", "tls-key")
        self.server_name = pick(server_name, "WEFT_TLS_SERVER_NAME", "tls-server-name")
        self.insecure = bool(insecure) or str(props.get("insecure", "")).lower() == "true"
        self.pin = parse_token(self.token) if self.token else None
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigurationError("cert_file and key_file go together: a client certificate "
                                     "and its private key")
        if self.insecure and (self.token or self.ca_file or self.cert_file or self.server_name):
            raise ConfigurationError("insecure=True talks plain text: it cannot go with a token, "
                                     "ca_file, cert_file or server_name")
        for name in ("ca_file", "cert_file", "key_file"):
            f = getattr(self, name)
            if f and not os.path.isfile(f):
                raise ConfigurationError("%s: %s does not exist" % (name, f))

    def finds_token(self, address):
        return (not self.token and not self.ca_file and not self.insecure
                and not address.startswith("unix:") and is_loopback(address))


def check_address(address):
    if address.startswith("unix:"):
        return address
    host, port = split(address)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError("not a coordinator address: %r (HOST:PORT or unix:PATH)" % address)
    return address


def split(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


def is_loopback(address):
    host, _ = split(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_token(token):
    """The pinned fingerprint (32 bytes) of a weft1- token; the message never repeats the token."""
    t = token.strip().lower()
    shape = "it must look like weft1-<64 hex digits>-<32 hex digits>; copy it whole from the " \
            "coordinator's output, `weft token show` or `weft token create`"
    if not t.startswith(TOKEN_PREFIX):
        raise ConfigurationError("not a weft token (%s)" % shape)
    parts = t[len(TOKEN_PREFIX):].split("-")
    try:
        if len(parts) != 2 or len(parts[0]) != 64 or len(parts[1]) != 32:
            raise ValueError
        pin = bytes.fromhex(parts[0])
        bytes.fromhex(parts[1])
    except ValueError:
        raise ConfigurationError("the token is damaged (%s)" % shape) from None
    return pin


# --- this user's local coordinators (LocalCoordinators.java) ---

def registry_dir(env=None):
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "weft")
    return "/tmp/weft-%d" % os.getuid()


def _trusted(path):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        return False
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    if stat.S_ISDIR(st.st_mode) and st.st_mode & (stat.S_IXGRP | stat.S_IXOTH):
        return False
    return True


def find_local(port):
    """(data_dir, socket or None) of this user's running coordinator on ``port``, or None."""
    d = registry_dir()
    entry = os.path.join(d, "port-%d" % port)
    try:
        if not os.path.isdir(d) or os.path.islink(d) or not _trusted(d) or not _trusted(entry):
            return None
        props = read_properties(entry)
        data_dir, pid = props.get("data-dir"), int(props.get("pid", "-1"))
        if not data_dir or pid <= 0 or not os.path.exists("/proc/%d" % pid):
            return None
        return data_dir, props.get("socket")
    except (OSError, ValueError):
        return None


# --- how one address is dialled ---

class Route:
    """How to reach one address: the gRPC target, channel credentials (None: plain text) and
    channel options."""

    def __init__(self, address, target, credentials, options, token):
        self.address = address
        self.target = target
        self.credentials = credentials
        self.options = options
        self.token = token

    def channel(self, grpc_module):
        # A coordinator stopped (SIGSTOP) or cut off keeps its connections open and answers
        # nothing: pings end a watch on it so it is watched again elsewhere (the server allows a
        # ping every 5 s).
        options = list(self.options) + [("grpc.keepalive_time_ms", 10000),
                                        ("grpc.keepalive_timeout_ms", 5000)]
        if self.credentials is None:
            return grpc_module.insecure_channel(self.target, options=options)
        return grpc_module.secure_channel(self.target, self.credentials, options=options)


def route(settings, address, timeout=10.0):
    """The Route for ``address``: as the CLI decides (ClientOptions.target, TlsClientOptions)."""
    import grpc

    if address.startswith("unix:"):
        return Route(address, address, None, [], None)
    token, pin = settings.token, settings.pin
    if settings.finds_token(address):
        local = find_local(int(split(address)[1]))
        if local is not None:
            data_dir, sock = local
            if sock and os.access(sock, os.W_OK):
                return Route(address, "unix:" + sock, None, [], None)
            try:
                with open(os.path.join(data_dir, "security", "admin-token"), encoding="ascii") as f:
                    token = f.read().strip()
                pin = parse_token(token)
            except OSError:
                token = None
    if settings.insecure:
        return Route(address, address, None, [], None)
    if not token and not settings.ca_file:
        why = ("weft talks to a coordinator only over TLS with a token, so that whoever holds the"
               " port gets nothing; pass a client token (`weft token create NAME --role submit` on"
               " its host) as token= or WEFT_TOKEN, or insecure=True for a coordinator started"
               " with --insecure")
        if is_loopback(address):
            raise Unavailable("no coordinator of this user serves %s: start one with 'weft "
                              "coordinator'; for another user's, %s" % (address, why[why.index("pass "):]))
        raise ConfigurationError("no token for the coordinator at %s: %s" % (address, why))
    key = chain = None
    if settings.cert_file:
        with open(settings.cert_file, "rb") as f:
            chain = f.read()
        with open(settings.key_file, "rb") as f:
            key = f.read()
    if settings.ca_file:
        with open(settings.ca_file, "rb") as f:
            roots = f.read()
        if pin is not None:
            # Both: the chain must hold the pinned certificate and verify against the CA file.
            pinned_anchor(address, pin, settings, timeout)
    else:
        roots = pinned_anchor(address, pin, settings, timeout)
    creds = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key,
                                         certificate_chain=chain)
    if token:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    options = []
    if settings.server_name:
        options.append(("grpc.ssl_target_name_override", settings.server_name))
    return Route(address, address, creds, options, token)


def pinned_anchor(address, pin, settings, timeout):
    """The PEM of the certificate with SHA-256 ``pin`` in the chain the coordinator at ``address``
    presents. Only a handshake: nothing is sent over it."""
    host, port = split(address)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # This handshake only fetches the chain: what is trusted is decided by the pin below, and the
    # gRPC connection then verifies the chain in full against the pinned certificate.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    if settings.cert_file:
        ctx.load_cert_chain(settings.cert_file, settings.key_file)
    sni = settings.server_name or host
    try:
        ipaddress.ip_address(sni)
        sni = None
    except ValueError:
        pass
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                chain = unverified_chain(tls)
    except ssl.SSLError as e:
        raise CertificateRejected(
            "TLS handshake with the coordinator at %s failed: %s; a coordinator started with "
            "--insecure needs insecure=True and no token" % (address, e)) from e
    except OSError as e:
        raise Unavailable("the coordinator at %s is unavailable: %s" % (address, e)) from e
    for der in chain:
        if hashlib.sha256(der).digest() == pin:
            return ssl.DER_cert_to_PEM_cert(der).encode("ascii")
    top = hashlib.sha256(chain[-1]).hexdigest() if chain else "nothing"
    raise CertificateRejected(
        "the coordinator's certificate at %s does not match the token: the token expects a "
        "certificate authority with SHA-256 fingerprint %s, the coordinator presented %s; the "
        "token belongs to another coordinator, or this one's keys were replaced"
        % (address, pin.hex(), top))


def unverified_chain(tls):
    """DER certificates the peer sent, leaf first (SSLSocket.get_unverified_chain, public from
    Python 3.13 and present on the C object since 3.10)."""
    if hasattr(tls, "get_unverified_chain"):
        chain = tls.get_unverified_chain()
    else:
        chain = tls._sslobj.get_unverified_chain()
    out = []
    for c in chain or []:
        out.append(c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER))
    return out
