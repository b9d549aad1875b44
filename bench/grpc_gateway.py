"""grpc-gateway (Go) as the benchmarks' reference proxy, built from bench/gateway_go.

The issue that set the edge's targets measured grpc-gateway once, on a quieter day; a
ratio against that figure tracks the host as much as the edge. This builds the same
proxy here (Debian's grpc-gateway 1.6.4, Go's GOPATH mode, no network) and runs it in
front of bench.upstream exactly as the bare transcoder runs, so both are measured in
the same run:

    with grpc_gateway(data_dir) as url: ...     # the 24-month route's HTTPS URL

The binary is kept under `.palmgrid/bench/`, named by a digest of its sources.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.processes import ROOT, before_upstream

__all__ = ["build", "grpc_gateway"]

SOURCES = Path(__file__).resolve().parent / "gateway_go"
GOCODE = Path("/usr/share/gocode")
GOOGLEAPIS = GOCODE / "src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis"
# protoc-gen-go 1.3 would import timestamp.proto's own go_package (the newer API, which
# the gateway's protobuf runtime does not read): point it at the 1.3 package instead.
TIMESTAMP = "Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp"


def _digest() -> str:
    """Of the sources, this recipe and the Go toolchain: a change to any builds anew."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(p for p in SOURCES.iterdir() if p.is_file()):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    go = shutil.which("go")
    if go:
        h.update(subprocess.run([go, "version"], capture_output=True, check=True).stdout)
    return h.hexdigest()[:16]


def build() -> Path:
    """The gateway's binary, built unless a build of the same sources is kept."""
    binary = ROOT / ".palmgrid" / "bench" / f"grpc-gateway-{_digest()}"
    if binary.exists():
        return binary
    tools = ("go", "protoc", "protoc-gen-go", "protoc-gen-grpc-gateway")
    if not all(shutil.which(tool) for tool in tools) or not GOOGLEAPIS.exists():
        raise RuntimeError(
            "grpc-gateway cannot be built here: install Go and Debian's grpc-gateway "
            "packages (GRPC_GATEWAY_PACKAGES in noxfile.py; `nox -s bench` does)"
        )
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="palmgrid-grpc-gateway-") as scratch:
        gopath = Path(scratch)
        package = gopath / "src" / "benchgateway"
        (package / "billingpb").mkdir(parents=True)
        shutil.copy(SOURCES / "main.go", package / "main.go")
        subprocess.run(
            [
                "protoc", f"-I{SOURCES}", f"-I{GOOGLEAPIS}", "-I/usr/include",
                f"--go_out=plugins=grpc,{TIMESTAMP}:{gopath / 'src'}",
                f"--grpc-gateway_out={TIMESTAMP}:{gopath / 'src'}",
                "billing.proto",
            ],
            check=True,
        )  # fmt: skip
        env = {
            **os.environ,
            "GOPATH": f"{gopath}:{GOCODE}",
            "GO111MODULE": "off",
            "GOFLAGS": "",
            "GOCACHE": str(gopath / "cache"),
        }
        built = binary.with_name(binary.name + ".tmp")
        subprocess.run(
            ["go", "build", "-o", str(built), "benchgateway"], cwd=gopath, env=env, check=True
        )
        built.replace(binary)
    for older in binary.parent.glob("grpc-gateway-*"):
        if older != binary:
            older.unlink()  # builds of sources since changed
    return binary


@contextmanager
def grpc_gateway(data_dir: Path) -> Iterator[str]:
    """grpc-gateway on the secure edge's CPU and HTTPS transport, in front of
    bench.upstream on the other; the URL of the baseline route."""
    binary, tls = build(), data_dir / "tls"

    def argv(port: int, upstream_port: int) -> list[str]:
        return [
            str(binary), f"127.0.0.1:{port}", f"127.0.0.1:{upstream_port}",
            str(tls / "server.pem"), str(tls / "server.key"),
        ]  # fmt: skip

    with before_upstream(data_dir, "grpc-gateway", argv) as url:
        yield url
