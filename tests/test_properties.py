"""Property-based tests (hypothesis) of the parsers that read attacker-controlled input.

* the redirect URI validator and matcher (``authgate_issuer.oauth.redirect_uris``): never accepts
  userinfo, a fragment, http on a non-loopback host or a script scheme; accepts generated valid
  https URIs; exact matching never lets a look-alike through;
* the OAuth parameter parsers (``authgate_issuer.oauth.params``): round-trip, repeated parameters
  refused, empty values absent, arbitrary bytes never raise anything but ``invalid_request``;
* the registration JSON parser (``authgate_issuer.oauth.client_metadata``): arbitrary bodies and
  metadata objects end in a registered record or an RFC 7591 error, never another exception;
* the verifier's Authorization-header parsing (through the ASGI app, real Redis, a real token):
  every spelling of ``Bearer <the token>`` is accepted, nothing else ever is, and nothing
  makes it fail with a server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate_issuer.oauth.client_metadata import parse_json_object, validate_client_metadata
from authgate_issuer.oauth.errors import InvalidClientMetadata, InvalidRedirectUri, InvalidRequest
from authgate_issuer.oauth.params import MULTI_VALUED, parse_form, parse_query
from authgate_issuer.oauth.redirect_uris import redirect_uri_matches, uri_problem
from authgate_issuer.settings import DEFAULT_APP_SCHEMES, IssuerSettings, is_loopback_host
from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import VerifierSettings
from testsupport.issuer import issuer_env
from testsupport.stack import seed_keys
from testsupport.tokens import TokenMinter
from testsupport.verifier import MCP_A, call, forwarded, running, verifier_env

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
APP_SCHEMES = DEFAULT_APP_SCHEMES

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
dns_name = st.lists(label, min_size=2, max_size=4).map(".".join)
# RFC 3986 §3.3 pchar; a '%' only as the start of a pct-encoded triplet (§2.1).
path_char = st.sampled_from([*(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/"), "%2F"])
segment = st.lists(path_char, max_size=8).map("".join)
path = st.lists(segment, max_size=4).map(lambda p: "/" + "/".join(p))
query = st.one_of(st.just(""), st.text(string.ascii_letters + "=&", min_size=1, max_size=10))
port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
# Any printable ASCII, and some of the characters URL parsers disagree about.
uri_text = st.text(
    st.sampled_from(string.printable + "\\\u00e9\u0430\u200b\x00"), min_size=0, max_size=60
)


def https_uri(host: str, port_: str, path_: str, query_: str) -> str:
    return f"https://{host}{port_}{path_}" + (f"?{query_}" if query_ else "")


@PROPS
@given(dns_name, port, path, query)
def test_valid_https_redirect_uris_are_accepted(host: str, p: str, pa: str, q: str) -> None:
    uri = https_uri(host, p, pa, q)
    assert uri_problem(uri, APP_SCHEMES) is None, uri


@PROPS
@given(st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.9.8.7"]), port, path)
def test_loopback_http_redirect_uris_are_accepted(host: str, p: str, pa: str) -> None:
    assert uri_problem(f"http://{host}{p}{pa}", APP_SCHEMES) is None


@PROPS
@given(uri_text)
def test_the_validator_never_accepts_a_dangerous_uri(uri: str) -> None:
    """Whatever the input, an accepted URI has none of the forbidden features."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        parts = None
    if uri_problem(uri, APP_SCHEMES) is not None:
        return
    assert parts is not None
    assert "#" not in uri and "@" not in parts.netloc
    assert uri.isascii() and "\\" not in uri and not any(c <= " " for c in uri)
    assert parts.scheme not in {"javascript", "data", "file", "vbscript"}
    if parts.scheme == "http":
        assert is_loopback_host(parts.hostname or "")


@PROPS
@given(dns_name, port, path, st.sampled_from(["user", "user:pw", "good.example.com", ""]))
def test_userinfo_is_never_accepted(host: str, p: str, pa: str, userinfo: str) -> None:
    for scheme in ("https", "http", "com.example.app", "cursor"):
        uri = f"{scheme}://{userinfo}@{host}{p}{pa}"
        assert uri_problem(uri, APP_SCHEMES) is not None, uri


@PROPS
@given(dns_name, path, st.text(string.ascii_letters + "/=?&", max_size=8))
def test_fragments_are_never_accepted(host: str, pa: str, fragment: str) -> None:
    assert uri_problem(https_uri(host, "", pa, "") + "#" + fragment, APP_SCHEMES) is not None


@PROPS
@given(dns_name, port, path)
def test_http_on_a_non_loopback_host_is_refused(host: str, p: str, pa: str) -> None:
    assert uri_problem(f"http://{host}{p}{pa}", APP_SCHEMES) is not None
    # Look-alikes of loopback names are still remote hosts.
    assert uri_problem(f"http://localhost.{host}{p}{pa}", APP_SCHEMES) is not None
    assert uri_problem(f"http://127.0.0.1.{host}{pa}", APP_SCHEMES) is not None


@PROPS
@given(
    st.sampled_from(["javascript", "JavaScript", "JAVASCRIPT", "data", "vbscript", "file"]),
    st.text(string.printable.strip(), max_size=30),
)
def test_script_schemes_are_refused(scheme: str, rest: str) -> None:
    # Even an operator listing them as app schemes cannot allow them.
    allowed = (*APP_SCHEMES, scheme.lower())
    assert uri_problem(f"{scheme}:{rest}", allowed) is not None
    assert uri_problem(f"{scheme}://{rest}", allowed) is not None


@PROPS
@given(dns_name, path, st.data())
def test_matching_is_exact_for_web_uris(host: str, pa: str, data: st.DataObject) -> None:
    registered = https_uri(host, "", pa, "")
    assert redirect_uri_matches([registered], registered)
    variants = [
        registered + "x",  # prefix of the requested URI
        registered + "/extra",  # extra path
        registered.replace("https://", "https://evil.example@", 1),  # userinfo
        registered.replace("https://", "HTTPS://", 1),  # case
        registered.replace(host, host.upper(), 1) if host != host.upper() else registered + "?",
        f"https://{host}:{data.draw(st.integers(1, 65535))}{pa}",  # other port
        f"https://{host}.evil.example{pa}",  # suffix host
        registered + "#frag",
        registered + "%2F..%2F",
    ]
    for requested in variants:
        assert not redirect_uri_matches([registered], requested), requested


@PROPS
@given(st.sampled_from(["127.0.0.1", "localhost", "[::1]"]), path, st.integers(1, 65535))
def test_loopback_matching_ignores_only_the_port(host: str, pa: str, p: int) -> None:
    registered = f"http://{host}{pa}"
    assert redirect_uri_matches([registered], f"http://{host}:{p}{pa}")
    assert not redirect_uri_matches([registered], f"http://{host}:{p}{pa}/x")
    assert not redirect_uri_matches([registered], f"http://{host}:{p}{pa}?a=1")
    assert not redirect_uri_matches([registered], f"https://{host}:{p}{pa}")


name_st = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
value_st = st.text(min_size=0, max_size=20)


@PROPS
@given(st.dictionaries(name_st, value_st, max_size=6), st.lists(value_st, max_size=3))
def test_form_and_query_round_trip(single: dict[str, str], resources: list[str]) -> None:
    single = {k: v for k, v in single.items() if k not in MULTI_VALUED}
    pairs = [*single.items(), *(("resource", r) for r in resources)]
    encoded = urlencode(pairs)
    for params in (parse_form(encoded.encode()), parse_query(encoded)):
        for name, value in single.items():
            # OAuth 2.1 §3.1: a parameter sent without a value is treated as omitted.
            assert params.get(name) == (value or None)
            assert (name in params) == bool(value)
        assert params.all("resource") == [r for r in resources if r]


@PROPS
@given(name_st.filter(lambda n: n not in MULTI_VALUED), value_st, value_st.filter(bool))
def test_repeated_parameters_are_refused(name: str, first: str, second: str) -> None:
    body = urlencode([(name, first or "x"), (name, second)])
    for parse in (lambda: parse_form(body.encode()), lambda: parse_query(body)):
        with pytest.raises(InvalidRequest):
            parse()


@PROPS
@given(st.binary(max_size=200))
def test_arbitrary_form_bodies_parse_or_are_invalid_request(body: bytes) -> None:
    try:
        params = parse_form(body)
    except InvalidRequest:
        return
    assert isinstance(params.get("grant_type") or "", str)


@PROPS
@given(st.text(max_size=200))
def test_arbitrary_query_strings_parse_or_are_invalid_request(text: str) -> None:
    with contextlib.suppress(InvalidRequest):
        parse_query(text)


SETTINGS = IssuerSettings.from_env(issuer_env("redis://127.0.0.1:9/0", Path("/nonexistent")))
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
SUPPORTED = (
    "redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "scope",
    "client_name", "client_uri", "logo_uri", "contacts", "application_type", "software_id",
    "tos_uri", "policy_uri", "software_version",
)  # fmt: skip
member = st.sampled_from([*SUPPORTED, "jwks", "client_secret", "extra"])
good_redirects = st.lists(st.builds(https_uri, dns_name, port, path, query), min_size=1, max_size=3)


@PROPS
@given(st.dictionaries(member, json_value, max_size=8), st.one_of(st.none(), good_redirects))
def test_registration_metadata_registers_or_is_refused_cleanly(
    data: dict[str, Any], redirects: list[str] | None
) -> None:
    if redirects is not None:
        data["redirect_uris"] = redirects
    try:
        registered = validate_client_metadata(data, SETTINGS)
    except (InvalidClientMetadata, InvalidRedirectUri):
        return
    # What is registered is only what we support, and every redirect URI passes the rules.
    assert set(registered) <= set(SUPPORTED)
    assert all(uri_problem(u, SETTINGS.app_schemes) is None for u in registered["redirect_uris"])
    orjson.dumps(registered)


@PROPS
@given(
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None]),
    st.one_of(st.binary(max_size=100), json_value.map(lambda v: json.dumps(v).encode())),
)
def test_registration_bodies_parse_or_are_invalid_client_metadata(
    content_type: str | None, body: bytes
) -> None:
    try:
        parsed = parse_json_object(content_type, body)
    except InvalidClientMetadata:
        return
    assert isinstance(parsed, dict)


class VerifierHarness:
    """The verifier app in-process (real Redis, a token minted by the issuer's code path), driven
    from synchronous hypothesis examples through one private event loop."""

    def __init__(self, redis_url: str, keys_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._stack = contextlib.AsyncExitStack()
        self.token = self.loop.run_until_complete(self._start(redis_url, seed_keys(keys_dir)))

    async def _start(self, redis_url: str, keys_dir: Path) -> str:
        minter = await self._stack.enter_async_context(TokenMinter.open(redis_url, keys_dir))
        app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)))
        self.app = await self._stack.enter_async_context(running(app))
        return (await minter.mint(resources=[MCP_A])).token

    def status(self, authorization: bytes | None) -> int:
        headers = [(k.lower().encode(), v.encode()) for k, v in forwarded(MCP_A).items()]
        if authorization is not None:
            headers.append((b"authorization", authorization))
        return self.loop.run_until_complete(call(self.app, headers=headers)).status

    def close(self) -> None:
        self.loop.run_until_complete(self._stack.aclose())
        self.loop.close()


@pytest.fixture
def verifier(redis_url: str, keys_dir: Path) -> Iterator[VerifierHarness]:
    harness = VerifierHarness(redis_url, keys_dir)
    yield harness
    harness.close()


def test_the_genuine_header_is_accepted_in_every_spelling(verifier: VerifierHarness) -> None:
    @PROPS
    @given(
        st.tuples(*(st.sampled_from([c, c.upper()]) for c in "bearer")),
        st.integers(1, 3),
        st.integers(0, 3),
    )
    def run(scheme: tuple[str, ...], spaces: int, trailing: int) -> None:
        value = "".join(scheme) + " " * spaces + verifier.token + " " * trailing
        assert verifier.status(value.encode()) == 200, value[:20]

    run()


def test_no_other_authorization_header_is_accepted(verifier: VerifierHarness) -> None:
    """Arbitrary bytes, other schemes, and every single-character change of the genuine token:
    never 200, never a server error."""
    token = verifier.token.encode()
    mutated = st.integers(0, len(token) - 1).flatmap(
        lambda i: st.sampled_from([b"", b"A", b".", b" ", b"\x00", b"%"]).map(
            lambda c: token[:i] + c + token[i + 1 :]
        )
    )
    header = st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda s, t: s + b" " + t,
            st.sampled_from([b"Basic", b"Token", b"Bearer:", b""]),
            st.just(token),
        ),
        mutated.map(lambda t: b"Bearer " + t),
        st.just(b"Bearer " + token + b" " + token),
        st.just(b"Bearer\t" + token),
    )

    @PROPS
    @given(header)
    def run(value: bytes) -> None:
        if value.strip(b" ").lower() == b"bearer " + token.lower():
            return  # the genuine header, spelled differently
        status = verifier.status(value)
        assert status in (400, 401), (status, value[:60])

    run()
    assert verifier.status(None) == 401
