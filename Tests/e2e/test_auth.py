"""`auth: jwt` against tokens made by an independent implementation (PyJWT), with RSA and EC keys made
by openssl at test time: every refusal with its status and metrics reason, claims in names and in a
process's environment, expiry closing with 1008, tokens never in the logs."""
import asyncio
import base64
import json
import subprocess
import time

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import wsgate_binary
from test_limits_rate import refused
from test_production import http_get, metric, run, write_config

SECRET = "e2e-secret-0123456789abcdef0123456789"
ISSUER = "https://auth.example.com"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """RSA 2048 and EC P-256 key pairs made by openssl: {name: (private PEM, public key path)}."""
    folder = tmp_path_factory.mktemp("keys")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem", cwd=folder)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem", cwd=folder)
    for name in ("rsa", "ec"):
        openssl("pkey", "-in", f"{name}.pem", "-pubout", "-out", f"{name}.pub.pem", cwd=folder)
    return {name: ((folder / f"{name}.pem").read_text(), str(folder / f"{name}.pub.pem")) for name in ("rsa", "ec")}


@pytest.fixture
def gateway(gateway_factory, tmp_path, keys):
    config = write_config(tmp_path, f"""\
        version: 1
        defaults:
          subprotocols: [chat]
        endpoints:
          - path: /team/{{room}}
            type: broadcast
            room: "{{room}}"
            name: "{{claims.sub}}"
            welcome: "hello {{claims.name}} in {{room}}"
            auth:
              jwt:
                secret: ${{JWT_SECRET}}
                issuer: {ISSUER}
                audience: wsgate
                token_from: [query:token, header:Authorization, subprotocol]
                rooms_claim: rooms
          - {{ path: /rsa, type: echo, auth: {{ jwt: {{ public_key: {keys["rsa"][1]} }} }} }}
          - {{ path: /ec, type: echo, auth: {{ jwt: {{ public_key: {keys["ec"][1]} }} }} }}
          - path: /env
            type: process
            command: [sh, -c, 'echo "$WSGATE_CLAIM_SUB $WSGATE_CLAIM_UID $TEAM"']
            env: {{ TEAM: "team-{{claims.team}}" }}
            auth: {{ jwt: {{ secret: "${{JWT_SECRET}}" }} }}
          - {{ path: /open, type: echo }}
        """)
    return gateway_factory(config, env={"JWT_SECRET": SECRET})


def token(key=SECRET, algorithm="HS256", **claims):
    now = int(time.time())
    payload = {"sub": "alice", "name": "Alice", "iss": ISSUER, "aud": "wsgate", "iat": now, "exp": now + 300,
               "rooms": ["team-*"], **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm)


def test_every_refusal_has_its_status_challenge_and_reason_and_no_token_is_logged(gateway, keys):
    now = int(time.time())
    cases = [
        # (token or None, path, status, reason)
        (None, "/team/team-a", 401, "token_missing"),
        ("not-a-jwt", "/team/team-a", 401, "token_malformed"),
        (token(key="another-secret-of-enough-length-0123"), "/team/team-a", 401, "token_signature"),
        (jwt.encode({"sub": "alice", "iss": ISSUER, "aud": "wsgate"}, None, algorithm="none"), "/team/team-a", 401,
         "token_algorithm"),
        # An HMAC token signed with the public key's text against an RSA endpoint (the classic confusion).
        (token(key=SECRET), "/rsa", 401, "token_algorithm"),
        (token(iss="https://evil.example.com"), "/team/team-a", 401, "token_issuer"),
        (token(aud="someone-else"), "/team/team-a", 401, "token_audience"),
        (token(exp=now - 10), "/team/team-a", 401, "token_expired"),
        (token(nbf=now + 600), "/team/team-a", 401, "token_not_yet_valid"),
        (token(rooms=["team-*"]), "/team/lobby", 403, "room_forbidden"),
        (token(rooms=None), "/team/team-a", 403, "room_forbidden"),
    ]

    async def scenario():
        for value, path, status, reason in cases:
            url = gateway.url(path) + (f"?token={value}" if value else "")
            response = await refused(url)
            assert response.status_code == status, (reason, response.status_code, response.body)
            challenge = response.headers["WWW-Authenticate"]
            assert challenge.startswith('Bearer realm="wsgate"')
            if status == 403:
                assert 'error="insufficient_scope"' in challenge
            elif value:
                assert 'error="invalid_token"' in challenge
        # An Authorization header that is not Bearer is malformed too.
        response = await refused(gateway.url("/team/team-a"), additional_headers={"Authorization": "Basic eDp5"})
        assert response.status_code == 401

    run(scenario())
    text = http_get(gateway.http_url("/metrics"))[1]
    expected = {}
    for _, _, _, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    expected["token_malformed"] += 1
    for reason, count in expected.items():
        assert metric(text, "wsgate_handshakes_refused_total", reason=reason) == count, reason
    log = gateway.stop()
    assert "handshake refused: token expired" in log and "reason=token_expired" in log
    for value, _, _, _ in cases:
        if value:
            assert value not in log


def test_claims_fill_the_name_and_welcome_from_query_header_and_subprotocol(gateway):
    async def scenario():
        async with connect(gateway.url("/team/team-a?token=" + token())) as alice:
            assert await alice.recv() == "hello Alice in team-a"
            await alice.send("hi")
            assert await alice.recv() == "[alice]: hi"
            bob_token = token(sub="bob", name="Bob")
            async with connect(gateway.url("/team/team-a"),
                               additional_headers={"Authorization": f"Bearer {bob_token}"}) as bob:
                assert await bob.recv() == "hello Bob in team-a"
                await bob.send("yo")
                assert await bob.recv() == "[bob]: yo"
                assert await alice.recv() == "[bob]: yo"
            # The subprotocol form, base64url-encoded as Kubernetes does; the server selects "chat", never
            # the token.
            carried = base64.urlsafe_b64encode(token(sub="carol", name="Carol").encode()).decode().rstrip("=")
            async with connect(gateway.url("/team/team-b"),
                               subprotocols=["chat", f"base64url.bearer.{carried}"]) as carol:
                assert carol.subprotocol == "chat"
                assert await carol.recv() == "hello Carol in team-b"

    run(scenario())


def test_rsa_and_ec_keys_made_by_openssl_verify_tokens_signed_by_pyjwt(gateway, keys):
    async def scenario():
        for path, key, algorithms in (("/rsa", keys["rsa"][0], ["RS256", "RS384", "PS256", "PS512"]),
                                      ("/ec", keys["ec"][0], ["ES256"])):
            for algorithm in algorithms:
                async with connect(gateway.url(path + "?token=" + token(key=key, algorithm=algorithm))) as ws:
                    await ws.send(algorithm)
                    assert await ws.recv() == algorithm
        # An EC token against the RSA endpoint, and the RSA key's token with a changed payload, are refused.
        response = await refused(gateway.url("/rsa?token=" + token(key=keys["ec"][0], algorithm="ES256")))
        assert response.status_code == 401
        header, _, signature = token(key=keys["rsa"][0], algorithm="RS256").split(".")
        payload = base64.urlsafe_b64encode(b'{"sub":"mallory"}').decode().rstrip("=")
        response = await refused(gateway.url(f"/rsa?token={header}.{payload}.{signature}"))
        assert response.status_code == 401
        # An endpoint without auth stays open.
        async with connect(gateway.url("/open")) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"

    run(scenario())


def test_a_process_gets_claims_as_variables_and_in_env_templates(gateway):
    async def scenario():
        async with connect(gateway.url("/env?token=" + token(sub="alice", uid=42, team="blue"))) as ws:
            assert await ws.recv() == "alice 42 team-blue"

    run(scenario())


def test_a_session_closes_with_1008_token_expired_within_a_second_of_exp(gateway):
    async def scenario():
        exp = int(time.time()) + 2
        async with connect(gateway.url("/team/team-a?token=" + token(exp=exp))) as ws:
            assert await ws.recv() == "hello Alice in team-a"
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            ended = time.time()
        assert closed.value.rcvd.code == 1008 and closed.value.rcvd.reason == "token expired"
        assert exp <= ended + 0.05 and ended - exp < 1.0, (exp, ended)

    run(scenario())


def test_validate_refuses_a_cookie_token_with_any_origin(tmp_path):
    config = write_config(tmp_path, """\
        version: 1
        endpoints:
          - path: /chat
            type: broadcast
            auth: { jwt: { secret: "0123456789abcdef0123456789abcdef", token_from: [cookie:wsgate_token] } }
        """)
    result = subprocess.run([wsgate_binary(), "validate", config], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cross-site WebSocket hijacking" in result.stdout + result.stderr
    assert "allowed_origins" in result.stdout + result.stderr


class JWKSServer:
    """An https server (a certificate openssl makes for 127.0.0.1) serving /jwks.json from `keys`, and
    counting the fetches."""

    def __init__(self, folder):
        import http.server
        import ssl
        import threading

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.crt",
                "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=folder)
        self.ca = str(folder / "tls.crt")
        self.keys = []
        self.fetches = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.fetches += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "tls.crt", folder / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"https://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def stop(self):
        self.server.shutdown()


def jwk(private_pem, kid):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_pem.encode(), password=None)
    algorithm = jwt.algorithms.RSAAlgorithm if "RSA" in type(key).__name__ else jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid}


def test_a_jwks_over_https_rotates_to_a_new_kid_without_a_restart(gateway_factory, tmp_path, keys):
    server = JWKSServer(tmp_path)
    try:
        server.keys = [jwk(keys["rsa"][0], "k1")]
        gateway = gateway_factory(write_config(tmp_path, f"""\
            version: 1
            endpoints:
              - path: /jwks
                type: echo
                auth: {{ jwt: {{ jwks: "{server.url}", jwks_ca: tls.crt }} }}
            """))

        def signed(name, kid, algorithm):
            return jwt.encode({"sub": "alice", "exp": int(time.time()) + 300}, keys[name][0], algorithm=algorithm,
                              headers={"kid": kid})

        async def scenario():
            async with connect(gateway.url("/jwks?token=" + signed("rsa", "k1", "RS256"))) as ws:
                await ws.send("k1")
                assert await ws.recv() == "k1"
            fetched = server.fetches
            # The key server rotates to an EC key under a new kid: the first token with it triggers one
            # refresh and is admitted.
            server.keys = [jwk(keys["ec"][0], "k2")]
            async with connect(gateway.url("/jwks?token=" + signed("ec", "k2", "ES256"))) as ws:
                await ws.send("k2")
                assert await ws.recv() == "k2"
            assert server.fetches == fetched + 1
            # Made-up kids right after: refused, and no more fetches (the refresh is rate-limited); the
            # rotated-out k1 is gone too, and an RS256 token cannot pose as the EC key's.
            for token in (signed("rsa", "bogus-1", "RS256"), signed("rsa", "bogus-2", "RS256"),
                          signed("rsa", "k1", "RS256"), signed("rsa", "k2", "RS256")):
                response = await refused(gateway.url("/jwks?token=" + token))
                assert response.status_code == 401
            assert server.fetches == fetched + 1

        run(scenario())
        text = http_get(gateway.http_url("/metrics"))[1]
        assert metric(text, "wsgate_handshakes_refused_total", reason="token_unknown_key") == 3
        assert metric(text, "wsgate_handshakes_refused_total", reason="token_algorithm") == 1
    finally:
        server.stop()
