"""Web Push and SMS channels against real local HTTP servers standing in for the push
service and Twilio: encrypted, VAPID-signed pushes; expired subscriptions removed; Twilio's
form POST with basic auth; each kind of failure sorted into temporary or permanent."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import http_ece
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from py_vapid import Vapid
from sqlalchemy import select

from routines import deliveries
from routines import models as m
from routines.deliveries import Message, PermanentFailure, TemporaryFailure
from tasks.channels import push, sms
from tenants.organisations import membership_for
from tests import routine_factories as f

# --- a local HTTP server that records requests and answers as told --------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    base: str
    requests: list[Recorded] = field(default_factory=list)
    # path -> (status, body); anything else answers 201 {}
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    delay: float = 0.0


@contextmanager
def http_server() -> Iterator[Server]:
    state: dict[str, Server] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            server = state["server"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            server.requests.append(
                Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if server.delay:
                time.sleep(server.delay)
            status, reply = server.answers.get(self.path, (201, b"{}"))
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state["server"] = Server(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _message(membership, kind: str = "reminder", **values: Any) -> Message:  # type: ignore[no-untyped-def]
    fields = {
        "delivery_id": 7,
        "tenant_id": membership.tenant_id,
        "kind": kind,
        "membership": membership,
        "title": "07:30 Rocking with Robin",
        "body": "5 minutes. Log it when it's done.",
        "link": "https://cadence.example/o/alpha/today#occurrence-3",
        "message_id": "<delivery-1-7@cadence.invalid>",
    }
    fields.update(values)
    return Message(**fields)


# --- Web Push -------------------------------------------------------------------------------


@dataclass
class Browser:
    """What a browser keeps for one subscription: its P-256 key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64(point)

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture(scope="module")
def vapid_config() -> dict[str, str]:
    private, public = push.generate_vapid_keys()
    return {
        "VAPID_PRIVATE_KEY": private,
        "VAPID_PUBLIC_KEY": public,
        "VAPID_SUBJECT": "mailto:ops@cadence.example",
    }


def _subscribe(db, membership, endpoint: str, browser: Browser) -> m.PushSubscription:  # type: ignore[no-untyped-def]
    row = m.PushSubscription(
        membership_id=membership.id,
        endpoint=endpoint,
        p256dh=browser.p256dh,
        auth=_b64(browser.auth),
    )
    db.add(row)
    db.flush()
    return row


def _verify_vapid(authorization: str, public: str) -> dict[str, Any]:
    """Check the RFC 8292 header `vapid t=<JWT>, k=<key>` and return the JWT's claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public
    header, claims, signature = parts["t"].split(".")
    raw = _unb64(signature)
    assert len(raw) == 64  # ES256: r and s, 32 bytes each
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(public))
    key.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        f"{header}.{claims}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )  # raises InvalidSignature if not signed by the VAPID key
    assert json.loads(_unb64(header)) == {"typ": "JWT", "alg": "ES256"}
    return json.loads(_unb64(claims))


def test_a_push_is_an_encrypted_vapid_signed_post_to_each_subscription(db, orgs, vapid_config):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    phone, laptop = Browser.new(), Browser.new()
    with http_server() as service, f.in_org(alpha):
        member = membership_for(db, alpha.carer)
        _subscribe(db, member, f"{service.base}/push/phone", phone)
        _subscribe(db, member, f"{service.base}/push/laptop", laptop)
        push.push_sender(vapid_config)(db, _message(member))
        kept = db.scalars(select(m.PushSubscription.endpoint)).all()
    assert [r.path for r in service.requests] == ["/push/phone", "/push/laptop"]
    expected = {
        "title": "07:30 Rocking with Robin",
        "body": "5 minutes. Log it when it's done.",
        "url": "https://cadence.example/o/alpha/today#occurrence-3",
    }
    for request, browser in zip(service.requests, (phone, laptop), strict=True):
        assert request.headers["content-encoding"] == "aes128gcm"
        assert request.headers["ttl"] == str(push.TTL_SECONDS)
        assert request.headers["urgency"] == "high"
        assert expected["title"].encode() not in request.body  # encrypted on the wire
        assert browser.decrypt(request.body) == expected
        claims = _verify_vapid(request.headers["authorization"], vapid_config["VAPID_PUBLIC_KEY"])
        assert claims["aud"] == service.base
        assert claims["sub"] == "mailto:ops@cadence.example"
        assert claims["exp"] > time.time()
    assert len(kept) == 2


def test_a_gone_subscription_is_deleted_and_the_others_still_receive(db, orgs, vapid_config):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with http_server() as service, f.in_org(alpha):
        service.answers["/push/old"] = (410, b"")
        member = membership_for(db, alpha.carer)
        _subscribe(db, member, f"{service.base}/push/old", Browser.new())
        _subscribe(db, member, f"{service.base}/push/new", Browser.new())
        push.push_sender(vapid_config)(db, _message(member))  # no exception: one got it
        kept = db.scalars(select(m.PushSubscription.endpoint)).all()
    assert kept == [f"{service.base}/push/new"]
    assert len(service.requests) == 2


@pytest.mark.parametrize("status", [404, 410])
def test_when_every_subscription_is_gone_the_send_fails_permanently(db, orgs, vapid_config, status):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with http_server() as service, f.in_org(alpha):
        service.answers["/push/old"] = (status, b"")
        member = membership_for(db, alpha.carer)
        _subscribe(db, member, f"{service.base}/push/old", Browser.new())
        with pytest.raises(PermanentFailure, match="expired"):
            push.push_sender(vapid_config)(db, _message(member))
        assert db.scalars(select(m.PushSubscription)).all() == []


def test_a_push_service_error_is_temporary_and_keeps_the_subscription(db, orgs, vapid_config):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with http_server() as service, f.in_org(alpha):
        service.answers["/push/x"] = (500, b"overloaded")
        member = membership_for(db, alpha.carer)
        _subscribe(db, member, f"{service.base}/push/x", Browser.new())
        with pytest.raises(TemporaryFailure, match="500"):
            push.push_sender(vapid_config)(db, _message(member))
        assert len(db.scalars(select(m.PushSubscription)).all()) == 1


def test_an_unreachable_push_service_is_temporary(db, orgs, vapid_config):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with http_server() as service:
        closed = service.base  # the server stops at the end of the block: nothing listens
    with f.in_org(alpha):
        member = membership_for(db, alpha.carer)
        _subscribe(db, member, f"{closed}/push/x", Browser.new())
        with pytest.raises(TemporaryFailure, match="unreachable"):
            push.push_sender(vapid_config)(db, _message(member))


def test_push_without_subscription_or_keys_fails_permanently(db, orgs, vapid_config):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with f.in_org(alpha):
        member = membership_for(db, alpha.carer)
        with pytest.raises(PermanentFailure, match="no push subscription"):
            push.push_sender(vapid_config)(db, _message(member))
        _subscribe(db, member, "http://127.0.0.1:9/push/x", Browser.new())
        with pytest.raises(PermanentFailure, match="VAPID_PRIVATE_KEY"):
            push.push_sender({})(db, _message(member))
        with pytest.raises(PermanentFailure, match="not a valid key"):
            push.push_sender({"VAPID_PRIVATE_KEY": "not-a-key"})(db, _message(member))
        _, other_public = push.generate_vapid_keys()
        mismatched = {**vapid_config, "VAPID_PUBLIC_KEY": other_public}
        with pytest.raises(PermanentFailure, match="does not belong"):
            push.push_sender(mismatched)(db, _message(member))


def test_a_push_delivery_is_recorded_sent_or_failed_by_deliver(db, orgs, vapid_config):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    browser = Browser.new()
    with http_server() as service, f.in_org(alpha):
        member = membership_for(db, alpha.carer)
        _subscribe(db, member, f"{service.base}/push/a", browser)
        rows = [
            m.Delivery(
                kind="digest",
                subject=f"digest:2026-11-2{day}",
                membership_id=member.id,
                channel="push",
                status="sending",
                not_before=now,
                payload={"title": "Tomorrow", "body": "07:30 Rocking", "path": "/o/alpha/x"},
            )
            for day in (4, 5)
        ]
        db.add_all(rows)
        db.flush()
        senders = {"push": push.push_sender(vapid_config)}

        def send(row: m.Delivery) -> str:
            return deliveries.deliver(
                db, alpha.id, row.id, now=now, senders=senders, base_url="https://c.example"
            )

        assert send(rows[0]) == "sent"
        assert browser.decrypt(service.requests[0].body) == {
            "title": "Tomorrow",
            "body": "07:30 Rocking",
            "url": "https://c.example/o/alpha/x",
        }
        assert service.requests[0].headers["urgency"] == "normal"  # a digest can wait
        service.answers["/push/a"] = (410, b"")
        assert send(rows[1]) == "failed"
        assert "expired" in (rows[1].last_error or "")


def test_cadence_vapid_prints_a_matching_key_pair() -> None:
    from portal.cli import cli

    result = CliRunner().invoke(cli, ["vapid", "--subject", "mailto:ops@example.org"])
    assert result.exit_code == 0, result.output
    lines = dict(
        line.split("=", 1) for line in result.output.splitlines() if not line.startswith("#")
    )
    assert set(lines) == {"VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT"}
    assert lines["VAPID_SUBJECT"] == "mailto:ops@example.org"
    vapid = Vapid.from_string(lines["VAPID_PRIVATE_KEY"])
    assert push.public_key_of(vapid) == lines["VAPID_PUBLIC_KEY"]
    assert len(_unb64(lines["VAPID_PUBLIC_KEY"])) == 65  # an uncompressed P-256 point


# --- SMS ------------------------------------------------------------------------------------

SID = "AC0123456789abcdef0123456789abcdef"
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def _twilio_config(base: str, **extra: str) -> dict[str, str]:
    return {
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": "tok3n",
        "TWILIO_FROM": "+447700900001",
        "TWILIO_API_BASE": base,
        **extra,
    }


def _phone(db, membership, number: str | None) -> None:  # type: ignore[no-untyped-def]
    db.add(m.NotificationPreference(membership_id=membership.id, channels=["sms"], phone=number))
    db.flush()


def test_a_text_is_a_form_post_to_twilio_with_basic_auth(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with http_server() as twilio, f.in_org(alpha):
        twilio.answers[MESSAGES] = (201, b'{"sid": "SM1", "status": "queued"}')
        member = membership_for(db, alpha.carer)
        _phone(db, member, "+447700900123")
        sender = sms.sms_sender(_twilio_config(twilio.base))
        assert sender is not None
        sender(db, _message(member))
    [request] = twilio.requests
    assert request.path == MESSAGES
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"{SID}:tok3n".encode()
    ).decode("ascii")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.body.decode())
    assert form == {
        "To": ["+447700900123"],
        "From": ["+447700900001"],
        "Body": ["07:30 Rocking with Robin https://cadence.example/o/alpha/today#occurrence-3"],
    }


def test_a_messaging_service_sid_is_sent_as_such(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    with http_server() as twilio:
        sms.Twilio(SID, "t", "MG0001", api_base=twilio.base).send("+15005550006", "hi")
    form = parse_qs(twilio.requests[0].body.decode())
    assert form["MessagingServiceSid"] == ["MG0001"] and "From" not in form


def test_twilio_refusals_are_permanent_with_twilios_message(db, orgs):  # type: ignore[no-untyped-def]
    alpha, _ = orgs
    refusal = {
        "code": 21211,
        "message": "The 'To' number +4400 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    with http_server() as twilio, f.in_org(alpha):
        twilio.answers[MESSAGES] = (400, json.dumps(refusal).encode())
        member = membership_for(db, alpha.carer)
        _phone(db, member, "+4400")
        sender = sms.sms_sender(_twilio_config(twilio.base))
        with pytest.raises(PermanentFailure) as failure:
            sender(db, _message(member))
    assert "not a valid phone number" in str(failure.value)
    assert "21211" in str(failure.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_twilio_server_errors_and_rate_limits_are_temporary(status: int) -> None:
    with http_server() as twilio:
        twilio.answers[MESSAGES] = (status, b'{"message": "try later"}')
        provider = sms.Twilio(SID, "t", "+447700900001", api_base=twilio.base)
        with pytest.raises(TemporaryFailure, match=str(status)):
            provider.send("+447700900123", "hi")


def test_a_twilio_that_does_not_answer_in_time_is_temporary() -> None:
    with http_server() as twilio:
        twilio.delay = 1.5
        provider = sms.Twilio(SID, "t", "+447700900001", api_base=twilio.base, timeout=0.3)
        with pytest.raises(TemporaryFailure, match="in time"):
            provider.send("+447700900123", "hi")


def test_an_unreachable_twilio_is_temporary() -> None:
    with http_server() as twilio:
        closed = twilio.base
    with pytest.raises(TemporaryFailure, match="could not be reached"):
        sms.Twilio(SID, "t", "+447700900001", api_base=closed).send("+447700900123", "hi")


def test_no_phone_number_fails_permanently_without_calling_twilio(db, orgs):  # type: ignore[no-untyped-def]
    alpha, beta = orgs
    with http_server() as twilio:
        sender = sms.sms_sender(_twilio_config(twilio.base))
        with f.in_org(beta):
            # a phone in another organisation is not this membership's
            _phone(db, membership_for(db, beta.carer), "+447700900999")
        with f.in_org(alpha):
            member = membership_for(db, alpha.carer)
            with pytest.raises(PermanentFailure, match="no phone number"):
                sender(db, _message(member))
            _phone(db, member, "  ")
            with pytest.raises(PermanentFailure, match="no phone number"):
                sender(db, _message(member))
    assert twilio.requests == []


def test_sms_configuration() -> None:
    assert sms.sms_sender({}) is None
    assert sms.sms_sender({"SMS_PROVIDER": ""}) is None
    incomplete = sms.sms_sender({"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": SID})
    assert incomplete is not None
    with pytest.raises(PermanentFailure, match="TWILIO_AUTH_TOKEN, TWILIO_FROM"):
        incomplete(None, None)  # type: ignore[arg-type]
    unknown = sms.sms_sender({"SMS_PROVIDER": "carrier-pigeon"})
    with pytest.raises(PermanentFailure, match="not a known provider"):
        unknown(None, None)  # type: ignore[arg-type,misc]
    not_http = sms.sms_sender(_twilio_config("file:///etc/passwd"))
    with pytest.raises(PermanentFailure, match="http"):
        not_http(None, None)  # type: ignore[arg-type,misc]
    provider = sms.provider_from(_twilio_config("https://api.example"))
    assert isinstance(provider, sms.Twilio) and provider.api_base == "https://api.example"
    default = sms.provider_from({**_twilio_config(""), "TWILIO_API_BASE": ""})
    assert isinstance(default, sms.Twilio) and default.api_base == "https://api.twilio.com"


def test_sms_text_keeps_the_link_whole_and_fits_one_segment() -> None:
    link = "https://cadence.example/o/alpha/today#occurrence-123456"
    assert sms.sms_text("07:30 Rocking", link) == f"07:30 Rocking {link}"
    long = sms.sms_text("Not logged yet: " + "very long activity name " * 10, link)
    assert len(long) == sms.MAX_TEXT
    assert long.endswith(f"... {link}")
    assert long.isascii()
