"""The openai backend's HTTP client on its own (testtime.samplers.http.Client) against the scripted server
(tests/fake_openai_server.py): retries of a failing server, the server's Retry-After, the concurrency bound, a reply
that is not JSON named in one line, a refused request, and the health wait."""

import time

import pytest

from tests.fake_openai_server import Script, Server, tiny_model
from testtime.config import EndpointConfig
from testtime.errors import UserError
from testtime.samplers.http import BadReply, Client, RequestFailed


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model(tmp_path_factory.mktemp("tiny"))))


@pytest.fixture
def server(tokenizer):
    s = Server(Script(), tokenizer).start()
    yield s
    s.stop()


@pytest.fixture
def connect(server):
    clients = []

    def make(**kw) -> Client:
        settings = {"timeout_s": 5.0, "max_retries": 3, "health_timeout_s": 2.0, **kw}
        clients.append(Client(EndpointConfig(base_url=server.url, **settings)))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def body(k: int = 0) -> dict:
    return {"model": "tiny", "prompt": [10 + k, 11, 12], "n": 2, "max_tokens": 8}


def one(client: Client, request: dict) -> dict | Exception:
    [(i, reply)] = list(client.replies("/completions", [request]))
    return reply


def test_a_503_is_retried_until_the_server_answers(connect, server):
    server.script.faults = ["503", "503"]
    reply = one(connect(), body())
    assert len(reply["choices"]) == 2
    assert len(server.script.requests) == 3


@pytest.mark.parametrize("retry_after", [None, "1.5"])
def test_the_servers_retry_after_is_honoured(connect, server, retry_after):
    server.script.faults, server.script.retry_after = ["503"], retry_after
    client = connect()
    t0 = time.monotonic()
    assert len(one(client, body())["choices"]) == 2
    waited = time.monotonic() - t0
    if retry_after is None:
        assert waited < 1.4    # the first backoff: 0.5 s, jittered by x0.5-1.5 (at most 0.75 s)
    else:
        assert waited >= 1.5   # as long as the server asked, not the shorter backoff


def test_retries_run_out_as_request_failed(connect, server):
    server.script.faults = ["500"] * 3
    reply = one(connect(max_retries=2), body())
    assert isinstance(reply, RequestFailed) and not isinstance(reply, BadReply)
    assert str(reply) == "HTTP 500: EngineCore hiccup (after 3 tries)"


def test_a_reply_that_is_not_json_is_named_in_one_line(connect, server):
    server.script.bodies["/v1/completions"] = "<html><body>Bad gateway page\n of a proxy</body></html>"
    reply = one(connect(max_retries=1), body())
    assert isinstance(reply, BadReply)
    assert str(reply) == (f"POST {server.url}/completions answered HTTP 200 with a body that is not JSON "
                          "('<html><body>Bad gateway page of a proxy</body></html>') (after 2 tries)")
    assert len(server.script.requests) == 2


def test_a_refused_request_raises_at_once(connect, server):
    server.script.faults = ["400"]
    with pytest.raises(UserError) as e:
        one(connect(), body())
    assert "HTTP 400: max_tokens is too large" in str(e.value) and "\n" not in str(e.value)
    assert len(server.script.requests) == 1   # not retried


def test_at_most_max_concurrency_in_flight(connect, server):
    server.script.delay_s = 0.05
    got = [i for i, reply in connect(max_concurrency=2).replies("/completions", [body(k) for k in range(10)])]
    assert sorted(got) == list(range(10)) and server.script.max_in_flight == 2


def test_sent_and_ended_bracket_each_request(connect, server):
    seen, in_flight = [], set()

    def sent(i):
        seen.append(("sent", i))
        in_flight.add(i)

    def ended(i):
        seen.append(("ended", i))
        in_flight.discard(i)

    replies = list(connect(max_concurrency=1).replies("/completions", [body(k) for k in range(3)], sent=sent,
                                                      ended=ended))
    assert [i for i, _ in replies] == [0, 1, 2] and not in_flight
    assert [kind for kind, _ in seen] == ["sent", "ended"] * 3


def test_health_wait_gives_up_after_health_timeout(connect, server):
    server.script.healthy = False
    client = connect(health_timeout_s=0.3)
    t0 = time.monotonic()
    with pytest.raises(RequestFailed, match=r"health check failed for 0.3 s \(HTTP 503; endpoint.health_timeout_s\)"):
        client.run(client.healthy())
    assert time.monotonic() - t0 >= 0.3
    server.script.healthy = True
    client.run(client.healthy())   # answers at once now
