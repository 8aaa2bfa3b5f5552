"""Connecting to Kafka: the client options the consumer and the producer share (TLS, SASL),
a first connection that turns refused credentials or certificates into a start-up error
that says what to fix, and closing a client quietly."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import structlog
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, SaslAuthenticationFailed
from aiokafka.helpers import create_ssl_context

from callpulse.config import KafkaSettings
from callpulse.sources.errors import SourceRefusedError

log = structlog.get_logger("callpulse.kafka")

_CLOSED_TRIES = 3  # connections closed after the handshake before it counts as a refusal


def connection_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka client options shared by the consumer and the producer."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
            certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
            keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        )
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options


async def check_credentials(settings: KafkaSettings, options: dict[str, Any]) -> None:
    """Connect to the first bootstrap server, so that refused credentials or certificates stop
    start-up with what to fix, rather than hide in endless retries.

    The message names the server, the user and the mechanism, never a secret. A server that
    cannot be reached at all is left to the ordinary retries. A broker that refuses a client
    certificate just closes the connection after the TLS handshake; only when it does so on
    every one of a few tries is that taken as a refusal.
    """
    first = settings.bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    user = settings.sasl_username
    for attempt in range(_CLOSED_TRIES):
        try:
            connection = await create_conn(
                host.strip("[]"),
                int(port),
                client_id=settings.client_id,
                request_timeout_ms=10_000,
                ssl_context=options.get("ssl_context"),
                security_protocol=settings.security_protocol,
                sasl_mechanism=settings.sasl_mechanism or "PLAIN",
                sasl_plain_username=user,
                sasl_plain_password=options.get("sasl_plain_password"),
            )
        except SaslAuthenticationFailed:
            raise SourceRefusedError(
                f"Kafka at {first} refused SASL {settings.sasl_mechanism} authentication for "
                f"user {user!r}: check sasl_username and sasl_password (or sasl_password_file)"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise SourceRefusedError(
                f"Kafka at {first}: its TLS certificate is not trusted ({exc.verify_message}): "
                "check ssl_cafile"
            ) from None
        except ssl.SSLError as exc:
            raise SourceRefusedError(
                f"Kafka at {first}: the TLS handshake failed ({exc.reason})"
            ) from None
        except KafkaConnectionError as exc:
            if not str(exc).endswith("closed"):
                return  # unreachable: the ordinary retries say so
            if attempt + 1 < _CLOSED_TRIES:
                await asyncio.sleep(1.0)
                continue
            raise SourceRefusedError(
                f"Kafka at {first} closed the connection after the TLS handshake on each of "
                f"{_CLOSED_TRIES} tries: it refuses this client's certificate, or wants one "
                "(ssl_certfile, ssl_keyfile)"
            ) from None
        except (KafkaError, OSError, TimeoutError, ValueError):
            return
        connection.close()
        return


async def quietly(awaitable: Any) -> None:
    """Await ``awaitable`` (a client's ``stop()``), logging rather than raising what it
    raises: closing a half-open client must not mask the error that made it close."""
    try:
        await awaitable
    except Exception as exc:
        log.debug("close_failed", error=str(exc))
