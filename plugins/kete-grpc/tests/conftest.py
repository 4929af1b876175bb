"""A real grpcio server on 127.0.0.1 for the grpc plugin's tests: a generic handler that records every
call (method, raw request bytes, metadata) and answers from a rule, and a PKI for TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import grpc.aio
import pytest

from kete_core.testing import started_servers
from kete_core.tls.testing import Pki


@dataclass
class Call:
    method: str
    request: bytes
    metadata: dict[str, str]

    @property
    def probe(self) -> bool:
        """KETE's start-up probe: an empty message without kete's metadata."""
        return "eventkind" not in self.metadata


@dataclass
class GrpcServer:
    """A grpc.aio server answering every unary method; ``decide`` picks a status for a call (None: OK)."""

    calls: list[Call] = field(default_factory=list)
    decide: Callable[[Call], tuple[grpc.StatusCode, str] | None] | None = None
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    server: grpc.aio.Server | None = None
    credentials: grpc.ServerCredentials | None = None

    async def start(self) -> GrpcServer:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((_Handler(self),))
        address = f"127.0.0.1:{self.port}"
        if self.credentials is None:
            self.port = server.add_insecure_port(address)
        else:
            self.port = server.add_secure_port(address, self.credentials)
        await server.start()
        self.server = server
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)
            self.server = None

    @property
    def events(self) -> list[Call]:
        """The calls that carried events (the probes left out)."""
        return [call for call in self.calls if not call.probe]


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, owner: GrpcServer) -> None:
        self.owner = owner

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        owner = self.owner
        method = details.method

        async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            call = Call(method, request, {key: value for key, value in context.invocation_metadata() or ()})
            owner.calls.append(call)
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
            try:
                await asyncio.sleep(owner.delay)
            finally:
                owner.in_flight -= 1
            answer = owner.decide(call) if owner.decide is not None else None
            if answer is not None:
                await context.abort(*answer)
            return b"ok"

        return grpc.unary_unary_rpc_method_handler(unary)


@pytest.fixture
async def start_server():
    """Start gRPC servers: ``await start_server(credentials=None, port=0)``; all stopped afterwards."""

    def start(credentials: grpc.ServerCredentials | None = None, port: int = 0) -> Awaitable[GrpcServer]:
        return GrpcServer(port=port, credentials=credentials).start()

    async with started_servers(start) as starting:
        yield starting


@pytest.fixture(scope="session")
def server_tls(pki: Pki) -> Callable[..., grpc.ServerCredentials]:
    """TLS for a test server: ``server_tls(require_client=False)``, the server certificate of :func:`pki`,
    and its CA for client certificates when they are required."""

    def credentials(*, require_client: bool = False) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(pki.server.key_pem(), pki.server.certificate_pem() + pki.ca_file.read_bytes())],
            root_certificates=pki.ca_file.read_bytes() if require_client else None,
            require_client_auth=require_client,
        )

    return credentials
