"""Builds the weft Python client. The gRPC stubs (weft.v1.*_pb2, *_pb2_grpc) are generated here,
at build time, from the .proto files of the weft repository (proto/src/main/proto), never committed.

The generator must match the protobuf runtime the stubs will run on: code from a protoc of another
minor version fails at import ("Descriptors cannot be created directly", or a runtime version
check). So this picks, in order, whichever of these has a protoc of the runtime's minor version
(protobuf 4.21.x goes with protoc 3.21.x, protobuf 5.27.x with protoc 27.x):

1. grpc_tools.protoc (the grpcio-tools package), which brings protoc and the gRPC plugin;
2. protoc and grpc_python_plugin on PATH (Debian: protobuf-compiler, protobuf-compiler-grpc).

WEFT_PROTO_DIR overrides where the .proto files are read from.
"""

import os
import re
import shutil
import subprocess
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "src")
PROTOS = ["weft/v1/job.proto", "weft/v1/job_service.proto", "weft/v1/worker_service.proto",
          "weft/v1/tasks.proto"]


def proto_dir():
    d = os.environ.get("WEFT_PROTO_DIR") or os.path.join(HERE, "..", "..", "proto", "src", "main", "proto")
    d = os.path.abspath(d)
    if not os.path.isfile(os.path.join(d, PROTOS[0])):
        sys.exit("weft: cannot find the weft .proto files in %s: build the package from the weft "
                 "repository (pip install ./clients/python), or set WEFT_PROTO_DIR" % d)
    return d


def runtime_minor():
    try:
        import google.protobuf
    except ImportError:
        sys.exit("weft: the protobuf package must be installed before the client is built "
                 "(Debian: python3-protobuf); the stubs are generated for its version")
    return int(google.protobuf.__version__.split(".")[1]), google.protobuf.__version__


def protoc_minor(cmd):
    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    m = re.search(r"libprotoc (\d+)\.(\d+)", out)
    if not m:
        return None, out.strip()
    # protoc 3.21.12 prints "libprotoc 3.21.12"; protoc 27.1 prints "libprotoc 27.1".
    major, minor = int(m.group(1)), int(m.group(2))
    return (minor if major == 3 else major), out.strip()


def generators():
    """(description, argv prefix, extra include dirs) for each generator found."""
    found = []
    try:
        import grpc_tools
        from grpc_tools import protoc  # noqa: F401
        include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        found.append(("grpc_tools.protoc", [sys.executable, "-m", "grpc_tools.protoc"], [include], None))
    except ImportError:
        pass
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc and plugin:
        found.append(("protoc + grpc_python_plugin", [protoc], [], plugin))
    return found


def generate():
    src = proto_dir()
    want, runtime = runtime_minor()
    tried = []
    for name, cmd, includes, plugin in generators():
        minor, version = protoc_minor(cmd)
        tried.append("%s (%s)" % (name, version or "version unknown"))
        if minor != want:
            continue
        out = os.path.join(OUT, "weft", "v1")
        if os.path.isdir(out):
            shutil.rmtree(out)
        os.makedirs(out)
        args = list(cmd) + ["-I" + src] + ["-I" + i for i in includes] + [
            "--python_out=" + OUT, "--grpc_python_out=" + OUT]
        if plugin:
            args.append("--plugin=protoc-gen-grpc_python=" + plugin)
        args += [os.path.join(src, p) for p in PROTOS]
        subprocess.run(args, check=True)
        with open(os.path.join(out, "__init__.py"), "w") as f:
            f.write('"""Generated at build time by %s from weft\'s .proto files."""\n' % name)
        return
    sys.exit("weft: no protoc matching the installed protobuf %s (it needs protoc 3.%d.x or %d.x);"
             " found: %s. Install grpcio-tools of a matching version, or protoc and "
             "grpc_python_plugin (Debian: protobuf-compiler protobuf-compiler-grpc)"
             % (runtime, want, want, ", ".join(tried) or "none"))


# Every step of a build (metadata, wheel) runs this file afresh and needs weft/v1 to exist, so the
# stubs are generated whenever it runs: a few hundred milliseconds.
generate()
setup()
