"""URLs in node fields reach messages; their passwords and tokens must not."""

from __future__ import annotations

import pytest

from hacheck.util.url_secrets import scrub, secrets_in

CASES = [
    # (text, shown, secrets listed for masking a diff)
    ("calls https://user:hunter2hunter@api.example/v1/items", "calls https://***@api.example/v1/items", ["user:hunter2hunter", "hunter2hunter"]),
    ("https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
     "https://api.telegram.org/***/sendMessage", ["bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"]),
    ("https://h.example/p?access_token=abcdef&page=2", "https://h.example/p?access_token=***&page=2", ["abcdef"]),
    ("https://h.example/p?q=a-rather-long-value-1", "https://h.example/p?q=***", ["a-rather-long-value-1"]),
    ("mongodb://app:s3cr3tpw@127.0.0.1:27017/db", "mongodb://***@127.0.0.1:27017/db", ["app:s3cr3tpw", "s3cr3tpw"]),
    # what a user needs stays: host, port, a readable path, a short command value
    ("sends GET to http://10.0.0.9/relay/1?state=on", "sends GET to http://10.0.0.9/relay/1?state=on", []),
    ("sends POST to msg.url", "sends POST to msg.url", []),
    ("'http://192.168.1.20:8080/api/v2/status' then", "'http://192.168.1.20:8080/api/v2/status' then", []),
]


@pytest.mark.parametrize(("text", "shown", "listed"), CASES)
def test_scrub_and_secrets_in(text, shown, listed):
    assert scrub(text) == shown
    assert secrets_in(text) == listed
