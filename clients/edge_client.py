"""The Python client for the JSON edge: the reference for app developers.

    client = EdgeClient("https://127.0.0.1:8443", ca_file=".palmgrid/tls/ca.pem")
    client.login("alicewong", "Tide-pool-88!")          # captcha answered in dev
    client.send_binding_code("3100000042")
    client.bind_customer("3100000042", verification="123456")  # the code from the SMS
    client.balance("3100000042")["balanceFen"]

It does what a phone app must: HTTPS with the deployment's CA; login with a captcha and
a fresh P-256 key pair whose public half goes in `clientPublicKey`; the bearer token on
every call; sensitive request fields sealed to the edge's current key (`GET /v1/keys`),
found from the descriptors' `(palmgrid.options.v1.field)` options; sealed response
fields opened with the app key (see clients.fieldcrypt and docs/field-encryption.md).
Errors raise `EdgeApiError` subclasses (clients.edge_errors).
"""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

from clients.edge_errors import EdgeApiError, error_for
from clients.fieldcrypt import (
    AppKey,
    EdgePublicKey,
    has_sensitive_fields,
    open_response_fields,
    seal_request_fields,
    session_binding,
)

# Imported for their descriptors: the client finds methods by full name.
from palmgrid.account.v1 import account_service_pb2  # noqa: F401
from palmgrid.billing.v1 import billing_service_pb2  # noqa: F401
from palmgrid.care.v1 import care_service_pb2  # noqa: F401
from palmgrid.expansion.v1 import expansion_service_pb2  # noqa: F401
from palmgrid.inspection.v1 import inspection_service_pb2  # noqa: F401
from palmgrid.outage.v1 import outage_service_pb2  # noqa: F401

__all__ = ["EdgeApiError", "EdgeClient", "Reply"]

ACCOUNT = "palmgrid.account.v1.AccountService."
BILLING = "palmgrid.billing.v1.BillingService."
OUTAGE = "palmgrid.outage.v1.OutageService."
CARE = "palmgrid.care.v1.CareService."


@dataclass(frozen=True)
class Reply:
    """A successful answer: status, headers (lower-case names) and the JSON body."""

    status: int
    headers: dict[str, str]
    json: dict[str, Any]


@dataclass(frozen=True)
class _Method:
    name: str
    request: descriptor.Descriptor
    response: descriptor.Descriptor
    body_type: descriptor.Descriptor | None  # what the JSON body holds
    body_prefix: str  # JSON path of the body inside the request message
    response_type: descriptor.Descriptor
    response_prefix: str


@cache
def _method(full_name: str) -> _Method:
    method = descriptor_pool.Default().FindMethodByName(full_name)
    options = descriptor_pb2.MethodOptions.FromString(method.GetOptions().SerializeToString())
    rule = (
        options.Extensions[annotations_pb2.http]
        if options.HasExtension(annotations_pb2.http)
        else http_pb2.HttpRule()
    )
    body_type: Any = method.input_type if rule.body == "*" else None
    body_prefix = ""
    if rule.body and rule.body != "*":
        field = method.input_type.fields_by_name[rule.body]
        body_type, body_prefix = field.message_type, field.json_name
    response_type: Any = method.output_type
    response_prefix = ""
    if rule.response_body:
        field = method.output_type.fields_by_name[rule.response_body]
        response_type, response_prefix = field.message_type, field.json_name
    return _Method(
        method.full_name,
        method.input_type,
        method.output_type,
        body_type,
        body_prefix,
        response_type,
        response_prefix,
    )


def _segment(value: str) -> str:
    return quote(value, safe="")


def _customer(customer: str) -> str:
    """`3100000042` or `customers/3100000042` → `customers/3100000042`."""
    return customer if customer.startswith("customers/") else f"customers/{customer}"


class EdgeClient:
    def __init__(
        self,
        base_url: str = "https://127.0.0.1:8443",
        *,
        ca_file: str | Path | None = None,
        timeout: float = 10.0,
        app_key: AppKey | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self.http = httpx.Client(
            base_url=base_url,
            verify=verify,
            timeout=timeout,
            transport=transport,
            headers=headers,
        )
        self.app_key = app_key or AppKey()
        self.token: str | None = None
        self._edge_key: EdgePublicKey | None = None

    # -- plumbing ------------------------------------------------------------------
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> EdgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keys(self) -> dict[str, Any]:
        """`GET /v1/keys`: the edge's field-encryption keys, current first."""
        return self.send("GET", "/v1/keys", seal=False).json

    @property
    def edge_key(self) -> EdgePublicKey:
        if self._edge_key is None:
            self._edge_key = EdgePublicKey.from_listing(self.keys())
        return self._edge_key

    def seal(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """Seal the sensitive fields of a JSON body for `method` (a full RPC name)."""
        info = _method(method)
        if info.body_type is None or not has_sensitive_fields(info.body_type):
            return body
        return seal_request_fields(
            body,
            info.body_type,
            self.edge_key,
            method=info.name,
            session=session_binding(self.token),
            prefix=info.body_prefix,
        )

    def call(
        self,
        method: str,
        http_method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Call one route of RPC `method`: seal the body, send, open the answer."""
        if body is not None:
            body = self.seal(method, body)
        reply = self.send(http_method, path, body=body, params=params, headers=headers, seal=False)
        info = _method(method)
        if reply.json and has_sensitive_fields(info.response_type):
            open_response_fields(
                reply.json,
                info.response_type,
                self.app_key,
                method=info.name,
                session=session_binding(self.token),
                prefix=info.response_prefix,
            )
        return reply

    def send(
        self,
        http_method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        seal: bool = False,
    ) -> Reply:
        """Send a request as given (no sealing unless `seal`); raise for non-2xx."""
        all_headers = dict(headers or {})
        if self.token and "authorization" not in {k.lower() for k in all_headers}:
            all_headers["Authorization"] = f"Bearer {self.token}"
        response = self.http.request(
            http_method, path, json=body, params=params, headers=all_headers
        )
        lowered = {k.lower(): v for k, v in response.headers.items()}
        payload: dict[str, Any] = {}
        if response.content and "json" in lowered.get("content-type", ""):
            payload = response.json()
        if response.status_code >= 400:
            raise error_for(response.status_code, payload, lowered)
        return Reply(response.status_code, lowered, payload)

    # -- account -------------------------------------------------------------------
    def create_captcha(self) -> dict[str, Any]:
        return self.call(ACCOUNT + "CreateCaptcha", "POST", "/v1/captchas", {}).json

    def _captcha(self, answer: str | None) -> tuple[str, str]:
        captcha = self.create_captcha()["name"]
        answer = answer or os.environ.get("PALMGRID_DEV_CAPTCHA")
        if not answer:
            raise ValueError("a captcha answer is needed (or PALMGRID_DEV_CAPTCHA in dev)")
        return captcha, answer

    def register(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        phone: str | None = None,
        captcha_answer: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Register. With `request_id`, the same call again (a retry after a lost
        answer, sealed anew) returns the user made the first time."""
        captcha, answer = self._captcha(captcha_answer)
        user: dict[str, Any] = {"username": username}
        if display_name:
            user["displayName"] = display_name
        if phone:
            user["phone"] = phone
        body = {"user": user, "password": password, "captcha": captcha, "captchaAnswer": answer}
        if request_id:
            body["requestId"] = request_id
        return self.call(ACCOUNT + "CreateUser", "POST", "/v1/users", body).json

    def login(
        self,
        username: str,
        password: str,
        *,
        captcha_answer: str | None = None,
        send_public_key: bool = True,
        second_factor_code: str = "",
    ) -> dict[str, Any]:
        """Log in; keeps the token for later calls. Returns the CreateSession answer."""
        captcha, answer = self._captcha(captcha_answer)
        body: dict[str, Any] = {
            "username": username,
            "password": password,
            "captcha": captcha,
            "captchaAnswer": answer,
        }
        if send_public_key:
            body["clientPublicKey"] = self.app_key.public_base64
        if second_factor_code:
            body["secondFactorCode"] = second_factor_code
        self.token = None  # a login binds no session
        reply = self.call(ACCOUNT + "CreateSession", "POST", "/v1/sessions", body).json
        self.token = reply["token"]
        return reply

    def logout(self) -> None:
        self.call(ACCOUNT + "DeleteSession", "DELETE", "/v1/sessions/current")
        self.token = None

    def me(self) -> dict[str, Any]:
        return self.call(ACCOUNT + "GetUser", "GET", "/v1/users/me").json

    def send_binding_code(
        self, customer: str, *, captcha_answer: str | None = None
    ) -> dict[str, Any]:
        """Have a one-time code sent by SMS to the customer's registered phone (each
        costs a captcha)."""
        captcha, answer = self._captcha(captcha_answer)
        body = {"customer": _customer(customer), "captcha": captcha, "captchaAnswer": answer}
        path = "/v1/users/me/customerBindings:sendCode"
        return self.call(ACCOUNT + "SendCustomerBindingCode", "POST", path, body).json

    def bind_customer(
        self, customer: str, verification: str, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """Bind a customer with the code `send_binding_code` had sent; with `request_id` a
        retry returns the binding made first."""
        body = {"customer": _customer(customer), "verification": verification}
        path = "/v1/users/me/customerBindings"
        params = {"requestId": request_id} if request_id else None
        return self.call(ACCOUNT + "CreateCustomerBinding", "POST", path, body, params).json

    def customer_bindings(self) -> list[dict[str, Any]]:
        path = "/v1/users/me/customerBindings"
        reply = self.call(ACCOUNT + "ListCustomerBindings", "GET", path).json
        return list(reply.get("customerBindings", []))

    def unbind_customer(self, customer: str) -> None:
        number = _customer(customer).split("/")[1]
        path = f"/v1/users/me/customerBindings/{_segment(number)}"
        self.call(ACCOUNT + "DeleteCustomerBinding", "DELETE", path)

    def subscriptions(self) -> dict[str, Any]:
        return self.call(ACCOUNT + "GetSubscriptions", "GET", "/v1/users/me/subscriptions").json

    def messages(self, **params: Any) -> dict[str, Any]:
        return self.call(
            ACCOUNT + "ListMessages", "GET", "/v1/users/me/messages", params=params
        ).json

    # -- billing -------------------------------------------------------------------
    def customer(self, customer: str) -> dict[str, Any]:
        return self.call(BILLING + "GetCustomer", "GET", f"/v1/{_customer(customer)}").json

    def balance(self, customer: str, **headers: str) -> dict[str, Any]:
        return self.balance_reply(customer, **headers).json

    def balance_reply(self, customer: str, **headers: str) -> Reply:
        path = f"/v1/{_customer(customer)}/balance"
        return self.call(BILLING + "GetBalance", "GET", path, headers=headers or None)

    def monthly_usage(self, customer: str, **params: Any) -> dict[str, Any]:
        return self.monthly_usage_reply(customer, **params).json

    def monthly_usage_reply(self, customer: str, **params: Any) -> Reply:
        path = f"/v1/{_customer(customer)}/monthlyUsage"
        return self.call(BILLING + "ListMonthlyUsage", "GET", path, params=params or None)

    def daily_usage(self, customer: str, **params: Any) -> dict[str, Any]:
        """Daily usage; params `startDate`, `endDate` ("YYYY-MM-DD", at most 400 days)."""
        return self.daily_usage_reply(customer, **params).json

    def daily_usage_reply(self, customer: str, **params: Any) -> Reply:
        path = f"/v1/{_customer(customer)}/dailyUsage"
        return self.call(BILLING + "ListDailyUsage", "GET", path, params=params or None)

    def export_usage(
        self, customer: str, fmt: str = "EXPORT_FORMAT_ESPI", **params: Any
    ) -> Iterator[bytes]:
        """The customer's own data file (`fmt`: EXPORT_FORMAT_CSV or EXPORT_FORMAT_ESPI)
        in pieces as they arrive; params `startDate`, `endDate`. Raises on refusal."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        path = f"/v1/{_customer(customer)}/usageExport"
        query = {"format": fmt, **params}
        with self.http.stream("GET", path, params=query, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                lowered = {k.lower(): v for k, v in response.headers.items()}
                payload = response.json() if "json" in lowered.get("content-type", "") else {}
                raise error_for(response.status_code, payload, lowered)
            yield from response.iter_bytes()

    def bills(self, customer: str, **params: Any) -> dict[str, Any]:
        path = f"/v1/{_customer(customer)}/bills"
        return self.call(BILLING + "ListBills", "GET", path, params=params or None).json

    def bill(self, customer: str, month: str) -> dict[str, Any]:
        path = f"/v1/{_customer(customer)}/bills/{_segment(month)}"
        return self.call(BILLING + "GetBill", "GET", path).json

    def charge_estimate(self, customer: str) -> dict[str, Any]:
        path = f"/v1/{_customer(customer)}/chargeEstimate"
        return self.call(BILLING + "GetChargeEstimate", "GET", path).json

    def tariff(self, tariff: str) -> dict[str, Any]:
        return self.call(BILLING + "GetTariff", "GET", f"/v1/tariffs/{_segment(tariff)}").json

    def pay(
        self,
        customer: str,
        amount_fen: int,
        channel: str,
        *,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "amountFen": str(amount_fen),
            "channel": channel,
            "requestId": request_id or str(uuid.uuid4()),
        }
        path = f"/v1/{_customer(customer)}/payments"
        return self.call(BILLING + "CreatePayment", "POST", path, body).json

    def payments(self, customer: str, **params: Any) -> dict[str, Any]:
        path = f"/v1/{_customer(customer)}/payments"
        return self.call(BILLING + "ListPayments", "GET", path, params=params or None).json

    # -- outages and customer care ---------------------------------------------------
    def outages(self, **params: Any) -> dict[str, Any]:
        return self.call(OUTAGE + "ListOutages", "GET", "/v1/outages", params=params or None).json

    def customer_outages(self, customer: str) -> dict[str, Any]:
        path = f"/v1/{_customer(customer)}/outages"
        return self.call(OUTAGE + "ListCustomerOutages", "GET", path).json

    def outlets(self, latitude: float, longitude: float) -> dict[str, Any]:
        params = {"latitude": latitude, "longitude": longitude}
        return self.call(CARE + "ListOutlets", "GET", "/v1/outlets", params=params).json

    def articles(self, **params: Any) -> dict[str, Any]:
        return self.call(CARE + "ListArticles", "GET", "/v1/articles", params=params or None).json
