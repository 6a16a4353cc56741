"""The bank simulator's hosted card form: served only to the embedding origins it knows."""

import httpx

MERCHANT = "http://127.0.0.1:8000"


def test_card_form_is_framed_only_by_a_known_origin(bank):
    # given the bank knows one merchant origin
    bank.configure(embed_origins=[MERCHANT])
    # when that origin asks for the form
    page = httpx.get(
        f"{bank.url}/elements/card.html", params={"origin": MERCHANT, "label": "Pay <b>"}
    )
    # then it is served with a policy that lets only that origin frame it
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert f"frame-ancestors {MERCHANT}" in policy
    assert "script-src 'self'" in policy
    assert '{"origin": "http://127.0.0.1:8000"}' in page.text
    assert "Pay &lt;b&gt;</button>" in page.text  # the label is text, never markup
    assert (
        httpx.get(f"{bank.url}/elements/card.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    # and any other origin, or a path outside the elements, is refused
    other = httpx.get(f"{bank.url}/elements/card.html", params={"origin": "https://evil.test"})
    assert other.status_code == 403
    assert httpx.get(f"{bank.url}/elements/..%2Fserver.py").status_code == 404


def test_tokens_check_the_cvc(bank):
    refused = httpx.post(f"{bank.url}/tokens", json={"card_number": "4242424242424242", "cvc": "1"})
    assert refused.status_code == 400
    ok = httpx.post(f"{bank.url}/tokens", json={"card_number": "4242424242424242", "cvc": "123"})
    assert ok.status_code == 201 and ok.json()["last4"] == "4242"
