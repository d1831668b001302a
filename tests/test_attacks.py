"""The attack index: every attack of the issue, and the test that fails if its defence breaks.

Tests in this file run against real processes (Redis, GitHub stand-in, issuer, verifier) and
cover what the per-component suites do not; the rest of the index points at those suites
(``here`` = this file; ``[...]`` = parameter ids).

**JWT** (verifier)
* ``alg: none``
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[alg none]; shared/tests/test_claims.py::test_rejections; here: test_forged_tokens_are_refused[alg-None-capitalised, alg-none-keeping-the-signature]
* HS256 signed with the RSA public key
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[HS256 signed with the public key]; here: test_forged_tokens_are_refused[hs256-public-jwk-as-secret]
* the real key with another algorithm
    here: test_forged_tokens_are_refused[other-alg-ps256-real-key, other-alg-rs512-real-key]
* ``kid`` unknown or injected
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[unknown kid]; services/verifier/tests/test_keyset.py::test_rotation_is_picked_up_and_junk_kids_are_rate_limited; shared/tests/test_claims.py::test_jwks_refuses_a_kid_that_is_not_the_thumbprint; here: test_forged_tokens_are_refused[kid-path, kid-sql, kid-redis-key, kid-missing]
* ``jku`` / ``x5u`` / embedded ``jwk``
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[jku header, x5u header, embedded jwk header]; here (nothing is fetched): test_key_reference_headers_are_never_followed
* tampered payload, original signature
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[tampered payload, truncated]
* expired, not yet valid, issued in the future
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[expired, not yet valid, issued in the future]; here: test_forged_tokens_are_refused[exp-missing]
* wrong ``iss``
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[wrong iss]; here: test_forged_tokens_are_refused[iss-trailing-slash]
* wrong ``typ``
    services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token[wrong typ]; here: test_forged_tokens_are_refused[typ-missing]
* wrong ``aud``; token of MCP service A on B
    services/verifier/tests/test_app.py::test_token_for_another_service_is_refused; tests/test_proxies_e2e.py::test_token_for_another_mcp_host_is_refused; here: test_forged_tokens_are_refused[aud-foreign], test_a_token_for_one_service_is_refused_on_another
* revoked token
    services/verifier/tests/test_app.py::test_revoked_token_is_refused_on_the_next_request; tests/test_proxies_e2e.py::test_revoked_token_is_refused_on_the_next_request; here (access token, whole grant via its refresh token): test_revocations_reach_the_verifier; a signed token whose jti has no record: test_forged_tokens_are_refused[jti-without-record]
* token of a deleted client
    services/issuer/tests/test_refresh.py::test_deleted_clients_refresh_tokens_are_dead; here (at the verifier): test_revocations_reach_the_verifier
* header injection through claims into ``X-User-*``
    services/verifier/tests/test_app.py::test_header_injection_through_claims_is_refused (github_username); services/verifier/tests/test_decision.py::test_unsafe_or_missing_identity_claims_are_refused; here (sub, client_id, scope, NUL): test_claims_cannot_inject_headers; proxies strip client-sent identity headers: tests/test_proxies_e2e.py::test_valid_token_reaches_upstream_with_the_verifiers_identity_only
**Authorization**
* code replay; concurrent redemption race
    services/issuer/tests/test_token.py::test_replay_by_the_same_client_revokes_what_the_code_produced, ::test_concurrent_redemptions_over_http_yield_exactly_one_token
* code used by another client
    services/issuer/tests/test_token.py::test_code_of_another_client_is_refused, ::test_replay_by_another_client_revokes_nothing
* PKCE missing / ``plain`` / malformed at /authorize
    services/issuer/tests/test_authorize.py::test_later_errors_redirect_with_iss; services/issuer/tests/test_pkce.py::test_plain_method_is_not_accepted
* PKCE wrong or missing verifier (downgrade) at /token
    services/issuer/tests/test_pkce.py::test_token_endpoint_refuses_pkce_mistakes_and_burns_the_code
* ``redirect_uri`` tricks at registration
    services/issuer/tests/test_redirect_uris.py::test_refused_uris_say_why; tests/test_properties.py::test_the_validator_never_accepts_a_dangerous_uri, ::test_userinfo_is_never_accepted, ::test_fragments_are_never_accepted, ::test_http_on_a_non_loopback_host_is_refused, ::test_script_schemes_are_refused
* ``redirect_uri`` tricks at /authorize (prefix, userinfo, case, encoded characters, extra path, other port, fragment, ``javascript:``)
    services/issuer/tests/test_redirect_uris.py::test_redirect_uri_matches; tests/test_properties.py::test_matching_is_exact_for_web_uris, ::test_loopback_matching_ignores_only_the_port; services/issuer/tests/test_authorize.py::test_client_and_redirect_errors_never_redirect
* ``redirect_uri`` mismatch at /token
    services/issuer/tests/test_token.py::test_redirect_uri_must_match
* open redirect on every error path
    services/issuer/tests/test_authorize.py::test_client_and_redirect_errors_never_redirect, ::test_repeated_parameters_are_refused_without_redirect; services/issuer/tests/test_callback.py::test_state_is_single_use_and_bound_to_the_browser; tests/test_attacks_browser.py (over HTTP, /authorize, /callback, consent): test_error_paths_never_redirect_elsewhere
* ``state`` injection
    tests/test_attacks_browser.py: test_state_cannot_inject_response_parameters
* CSRF on consent
    services/issuer/tests/test_consent.py::test_csrf_failures_are_refused_and_issue_nothing
* clickjacking headers
    services/issuer/tests/test_authorize.py::test_consent_page_escapes_and_cannot_be_framed; tests/test_attacks_browser.py (every page, error pages included): test_no_page_can_be_framed
* HTML/JS injection through client metadata
    services/issuer/tests/test_authorize.py::test_consent_page_escapes_and_cannot_be_framed; tests/test_browser_consent.py::test_client_name_with_markup_shows_as_text; tests/test_attacks_browser.py (redirect URI, client_uri, software_id, state): test_metadata_payloads_are_inert_on_the_consent_page
* redirect URIs and client URLs that are not RFC 3986 URIs (``"><script>``, ``{}|^``, backticks, ``%zz``, ``%2``, controls), at /register and RFC 7592 PUT
    tests/test_attacks_metadata.py: test_redirect_uris_that_are_not_uris_are_refused, test_metadata_urls_that_are_not_uris_are_refused, test_real_redirect_uris_still_register_and_receive_errors_verbatim; services/issuer/tests/test_uri_syntax.py; services/issuer/tests/test_redirect_uris.py::test_refused_uris_say_why, ::test_control_characters_are_refused_everywhere, ::test_a_stored_non_uri_never_matches
* bidi overrides and invisible characters in client text on the consent page (Trojan Source)
    tests/test_attacks_metadata.py: test_invisible_and_bidi_characters_in_client_text_are_refused, test_consent_page_isolates_client_text; tests/test_browser_consent.py::test_a_right_to_left_override_is_refused_and_cannot_reorder_the_page; services/issuer/tests/test_client_metadata.py::test_invisible_characters_in_text_members_are_refused; services/issuer/tests/test_pages.py
* contacts that are not e-mail addresses (``javascript:alert(1)``)
    tests/test_attacks_metadata.py: test_contacts_must_be_email_addresses; services/issuer/tests/test_client_metadata.py::test_contacts_that_are_not_email_addresses_are_refused
* an unusable GitHub account reported as an outage ("retry shortly")
    tests/test_attacks_metadata.py: test_an_unusable_github_account_is_access_denied_not_an_outage; services/issuer/tests/test_github.py::test_an_unusable_account_is_not_an_outage
* allowlist bypasses (case, whitespace, empty list, ``*``)
    services/issuer/tests/test_allowlist.py::test_allowlist, ::test_a_star_inside_a_login_is_not_a_wildcard; services/issuer/tests/test_callback.py::test_allowlist; services/issuer/tests/test_refresh.py::test_refresh_rechecks_the_allowlist
**Clients and tokens**
* RFC 7592 with another client's registration token
    services/issuer/tests/test_client_config.py::test_every_authentication_failure_looks_the_same
* guessing registration tokens (no oracle, constant time)
    services/issuer/tests/test_client_config.py::test_every_authentication_failure_looks_the_same, ::test_tokens_are_compared_in_constant_time_even_for_unknown_clients
* refresh token reuse; cross-client refresh
    services/issuer/tests/test_refresh.py::test_refresh_reuse_revokes_the_whole_family, ::test_refresh_is_bound_to_the_client
* revoke / introspect another client's token
    services/issuer/tests/test_revoke.py::test_another_clients_token_is_not_revoked; services/issuer/tests/test_introspect.py::test_another_clients_tokens_are_inactive
* confidential client without or with a wrong secret
    services/issuer/tests/test_client_auth.py::test_wrong_secret_is_401_with_challenge, ::test_confidential_client_without_secret_is_refused
* client-id oracle at /token, /revoke, /introspect (unknown vs known client, wrong method)
    tests/test_attacks_metadata.py: test_client_authentication_is_not_a_client_id_oracle; services/issuer/tests/test_client_auth.py::test_every_client_dependent_failure_gives_the_same_answer, ::test_an_unknown_client_costs_the_same_hash_and_compare
**Client ID Metadata Documents and client assertions**
* SSRF through a client id URL (loopback, private, link-local metadata endpoint, IPv4-mapped, NAT64), DNS rebinding and mixed DNS answers, a certificate for another name
    services/issuer/tests/test_outbound_fetch.py::test_loopback_is_refused_unless_allowed, ::test_the_checked_address_is_the_one_connected_to, ::test_a_mixed_dns_answer_is_refused, ::test_the_certificate_must_name_the_host, ::test_addresses_outside_the_public_internet_are_refused; tests/test_cimd_documents_e2e.py::test_the_operator_policy
* redirects, oversized and slow documents, cookies sent back
    services/issuer/tests/test_outbound_fetch.py::test_redirects_are_not_followed, ::test_oversize_is_refused_declared_or_not, ::test_a_slow_host_is_cut_off_by_the_overall_timeout, ::test_fetches_json_over_verified_tls_sending_nothing_of_ours; tests/test_cimd_documents_e2e.py::test_fetch_failures_are_refused
* a document claiming another client id, a shared secret, or redirect URIs our rules refuse
    services/issuer/tests/test_cimd_rules.py::test_unusable_documents; tests/test_cimd_documents_e2e.py::test_an_unusable_document_gets_a_page_and_invalid_client
* the issuer as a fetch amplifier
    tests/test_cimd_documents_e2e.py::test_fetches_per_host_are_limited_across_replicas, ::test_failures_are_cached_briefly
* localhost impersonation of a document client
    tests/test_cimd_e2e.py::test_a_document_client_completes_the_whole_flow (the consent page's warning)
* client assertion replay, wrong audience, expired or long-lived, forged (another key, HS256 with the public key, ``alg: none``)
    tests/test_private_key_jwt.py::test_a_jti_is_used_once, ::test_the_claims_are_checked, ::test_the_signature_must_be_the_clients
**Account page** (``/account``)
* CSRF (missing, wrong or non-ASCII token; a cross-site post)
    tests/test_account_page.py::test_another_users_grant_and_bad_csrf_tokens_change_nothing; services/issuer/tests/test_account_parts.py::test_csrf_token_is_bound_to_the_browser_and_the_session
* revoking another user's grant
    tests/test_account_page.py::test_another_users_grant_and_bad_csrf_tokens_change_nothing; services/issuer/tests/test_user_grants.py::test_revoked_and_foreign_ids_are_dropped
* forged, expired or copied (other browser) session
    tests/test_account_page.py::test_forged_expired_and_other_browsers_sessions_mean_signing_in_again; services/issuer/tests/test_account_parts.py::test_session_round_trips_only_for_its_browser_and_until_it_expires
* framing, caching, injection through client names
    tests/test_account_page.py::test_page_headers_and_sign_out; services/issuer/tests/test_account_parts.py::test_page_escapes_every_value_and_labels_every_button
**Input, abuse, secrets**
* malformed input (property-based, schemathesis)
    tests/test_properties.py, tests/test_schemathesis.py
* floods, oversized bodies and headers
    tests/test_rate_limits.py
* secrets in logs or in clear in Redis
    tests/test_secrets_hygiene.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from authgate_issuer.store import keystore
from authgate_shared.keys import rsa_public_jwk
from testsupport import flows
from testsupport.ports import free_port
from testsupport.stack import RESOURCE_A, RESOURCE_B, Stack, running_stack

Claims = dict[str, Any]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("attacks")) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: Stack, http: httpx.Client) -> flows.RegisteredClient:
    return flows.register(http, stack.issuer_url)


@pytest.fixture
def real(stack: Stack, http: httpx.Client, client: flows.RegisteredClient) -> str:
    """A fresh, valid access token for RESOURCE_A (its record is live in Redis)."""
    token: str = flows.login(http, stack.issuer_url, client, resources=[RESOURCE_A])["access_token"]
    assert stack.verify(token).status_code == 200
    return token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[Claims, Claims]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return orjson.loads(base64.urlsafe_b64decode(pad(head))), orjson.loads(
        base64.urlsafe_b64decode(pad(body))
    )


def signing_key(stack: Stack) -> rsa.RSAPrivateKey:
    ring = keystore.read_key_dir(stack.directory / "keys", "RS256")
    assert ring is not None and isinstance(ring.current.key, rsa.RSAPrivateKey)
    return ring.current.key


def encode(head: Claims, body: Claims, key: Any) -> str:
    """JWS compact serialisation without a library's safety checks: attackers have none."""
    signing_input = f"{b64(orjson.dumps(head))}.{b64(orjson.dumps(body))}".encode()
    alg = head.get("alg")
    if alg == "HS256":
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    elif alg == "PS256":
        pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
        signature = key.sign(signing_input, pss, hashes.SHA256())
    else:
        digest = hashes.SHA512() if alg == "RS512" else hashes.SHA256()
        signature = key.sign(signing_input, padding.PKCS1v15(), digest)
    return f"{signing_input.decode()}.{b64(signature)}"


def resign(
    stack: Stack,
    token: str,
    *,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """The same token (same jti, so its revocation record is live) with changed claims, signed
    with the issuer's real key: only the change can make the verifier refuse it. A header value
    of None removes that header."""
    head, body = parts(token)
    body.update(claims)
    for name in drop:
        body.pop(name)
    head.update(header or {})
    head = {k: v for k, v in head.items() if v is not None}
    return encode(head, body, signing_key(stack))


def unsigned(token: str, alg: str) -> str:
    head, body = parts(token)
    head["alg"] = alg
    return f"{b64(orjson.dumps(head))}.{b64(orjson.dumps(body))}."


def hmac_with(token: str, secret: bytes) -> str:
    head, body = parts(token)
    return encode({**head, "alg": "HS256"}, body, secret)


# Only what services/verifier/tests/test_app.py::test_bad_tokens_get_401_invalid_token does not
# already cover (expired, nbf, iat, wrong iss, no jti, typ JWT, alg none, HS256 with the PEM,
# unknown kid, tampered, truncated, garbage): here through the real processes and, where a
# signature is needed, with the issuer's real key and a live jti, so only the change can fail.
FORGERIES: dict[str, Callable[[Stack, str], str]] = {
    "alg-None-capitalised": lambda s, t: unsigned(t, "None"),
    "alg-none-keeping-the-signature": lambda s, t: unsigned(t, "none") + t.split(".")[2],
    "hs256-public-jwk-as-secret": lambda s, t: hmac_with(
        t, orjson.dumps(rsa_public_jwk(signing_key(s).public_key()))
    ),
    "other-alg-ps256-real-key": lambda s, t: resign(s, t, header={"alg": "PS256"}),
    "other-alg-rs512-real-key": lambda s, t: resign(s, t, header={"alg": "RS512"}),
    "kid-path": lambda s, t: resign(s, t, header={"kid": "../../../../dev/null"}),
    "kid-sql": lambda s, t: resign(s, t, header={"kid": "x' OR '1'='1"}),
    "kid-redis-key": lambda s, t: resign(s, t, header={"kid": "oauth:jwks"}),
    "kid-missing": lambda s, t: resign(s, t, header={"kid": None}),
    "iss-trailing-slash": lambda s, t: resign(s, t, iss=parts(t)[1]["iss"] + "/"),
    "aud-foreign": lambda s, t: resign(s, t, aud=["https://evil.example.com"]),
    "typ-missing": lambda s, t: resign(s, t, header={"typ": None}),
    "jti-without-record": lambda s, t: resign(s, t, jti=parts(t)[1]["jti"] + "x"),
    "exp-missing": lambda s, t: resign(s, t, drop=("exp",)),
}


def test_the_forging_helpers_make_valid_tokens_when_nothing_is_changed(
    stack: Stack, real: str
) -> None:
    """The control: without it, every refusal below could come from a broken helper."""
    assert stack.verify(resign(stack, real)).status_code == 200
    assert stack.verify(resign(stack, real, header={"alg": "RS256"})).status_code == 200


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_tokens_are_refused(stack: Stack, real: str, name: str) -> None:
    forged = FORGERIES[name](stack, real)
    for _ in range(2):  # the second answer may come from a cache: it must not differ
        answer = stack.verify(forged)
        assert answer.status_code == 401, (name, answer.status_code, answer.text)
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
        assert "x-user-id" not in answer.headers
    assert stack.verify(real).status_code == 200  # the genuine token still works


class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_key_reference_headers_are_never_followed(stack: Stack, real: str) -> None:
    """An attacker's own key, announced through jku / x5u / jwk, must not be fetched or used."""
    attacker = rsa.generate_private_key(65537, 2048)
    jwk = rsa_public_jwk(attacker.public_key())
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, body = parts(real)
        for header in (
            {"kid": jwk["kid"], "jku": f"http://127.0.0.1:{port}/jwks.json"},
            {"kid": jwk["kid"], "x5u": f"http://127.0.0.1:{port}/cert.pem"},
            {"kid": jwk["kid"], "jwk": jwk},
            {"kid": parts(real)[0]["kid"], "jwk": jwk},  # the real kid, the attacker's key
        ):
            forged = encode({"alg": "RS256", "typ": "at+jwt", **header}, body, attacker)
            assert stack.verify(forged).status_code == 401, header
    finally:
        server.shutdown()
    assert _Recorder.hits == []


def test_a_token_for_one_service_is_refused_on_another(stack: Stack, real: str) -> None:
    assert stack.verify(real, RESOURCE_A).status_code == 200
    for elsewhere in (RESOURCE_B, "https://mcp-a.example.com.evil.net", "http://mcp-a.example.com"):
        assert stack.verify(real, elsewhere).status_code == 401, elsewhere


def test_revocations_reach_the_verifier(
    stack: Stack, http: httpx.Client, client: flows.RegisteredClient
) -> None:
    url = stack.issuer_url
    one = flows.login(http, url, client, resources=[RESOURCE_A])
    flows.revoke(http, url, client, one["access_token"])
    assert stack.verify(one["access_token"]).status_code == 401
    # Revoking a refresh token kills the access tokens of its grant.
    two = flows.login(http, url, client, resources=[RESOURCE_A])
    flows.revoke(http, url, client, two["refresh_token"])
    assert stack.verify(two["access_token"]).status_code == 401
    # Deleting a client (RFC 7592) kills everything issued to it.
    doomed = flows.register(http, url, public=True)
    three = flows.login(http, url, doomed, resources=[RESOURCE_A])
    assert stack.verify(three["access_token"]).status_code == 200
    bearer = {"Authorization": f"Bearer {doomed.registration_access_token}"}
    assert http.delete(f"{url}/register/{doomed.client_id}", headers=bearer).status_code == 204
    assert stack.verify(three["access_token"]).status_code == 401
    assert flows.refresh(http, url, doomed, three["refresh_token"]).status_code in (400, 401)


@pytest.mark.parametrize(
    "claims",
    [  # github_username is covered by test_app.py::test_header_injection_through_claims_is_refused
        {"sub": "github|octocat\nX-Admin: true"},
        {"client_id": "c\r\nX-Admin: true"},
        {"scope": "mcp:*\r\nX-Admin: true"},
        {"sub": "github|octocat\x00"},
    ],
)
def test_claims_cannot_inject_headers(stack: Stack, real: str, claims: Claims) -> None:
    """A token signed with the real key whose claims carry CR/LF or non-ASCII (a compromised
    or buggy minting path) must not turn into forwarded identity headers."""
    answer = stack.verify(resign(stack, real, **claims))
    assert "x-admin" not in answer.headers
    if answer.status_code == 200:
        for name in ("x-user-id", "x-user-name", "x-client-id", "x-scopes"):
            assert all(" " <= c <= "~" for c in answer.headers.get(name, ""))
    else:
        assert answer.status_code == 401
