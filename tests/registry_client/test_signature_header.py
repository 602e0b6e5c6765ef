"""The Authorization header: exact output, liberal input (the spellings peers really send)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_client.errors import MalformedSignature
from registry_client.signing import SIGNED_HEADERS, SignatureHeader

SIGNATURE = base64.b64encode(bytes(range(64))).decode()
CANONICAL = (
    'Signature keyId="bap.example.com|k1|ed25519",algorithm="ed25519",created="1700000000",'
    f'expires="1700000300",headers="(created) (expires) digest",signature="{SIGNATURE}"'
)

subscriber_ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters='|"'), min_size=1, max_size=60
)
unique_key_ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters='"'), min_size=1, max_size=60
).filter(lambda value: not value.startswith("|") and not value.endswith("|") and "||" not in value)
timestamps = st.integers(min_value=0, max_value=10**15 - 1)
signatures = st.binary(min_size=64, max_size=64).map(lambda raw: base64.b64encode(raw).decode())


def header(**changes: object) -> SignatureHeader:
    fields: dict[str, object] = {
        "subscriber_id": "bap.example.com",
        "unique_key_id": "k1",
        "algorithm": "ed25519",
        "created": 1700000000,
        "expires": 1700000300,
        "headers": SIGNED_HEADERS,
        "signature": SIGNATURE,
    }
    fields.update(changes)
    return SignatureHeader(**fields)  # type: ignore[arg-type]


def test_format_is_exactly_the_beckn_006_layout() -> None:
    assert header().format() == CANONICAL


@given(subscriber_ids, unique_key_ids, timestamps, timestamps, signatures)
def test_format_then_parse_gives_the_same_header(
    subscriber_id: str, unique_key_id: str, created: int, expires: int, signature: str
) -> None:
    original = header(
        subscriber_id=subscriber_id,
        unique_key_id=unique_key_id,
        created=created,
        expires=expires,
        signature=signature,
    )
    assert SignatureHeader.parse(original.format()) == original


@pytest.mark.parametrize(
    "value",
    [
        CANONICAL,
        CANONICAL.removeprefix("Signature "),
        "signature " + CANONICAL.removeprefix("Signature "),
        CANONICAL.replace('",', '", '),
        CANONICAL.replace('created="1700000000"', "created=1700000000").replace(
            'expires="1700000300"', "expires=1700000300"
        ),
        (
            f'Signature signature="{SIGNATURE}", headers="(created) (expires) digest", expires="1700000300", '
            'created="1700000000", algorithm="ed25519", keyId="bap.example.com|k1|ed25519"'
        ),
        f"  {CANONICAL}  ",
        CANONICAL.replace("keyId=", "keyid="),
    ],
    ids=[
        "canonical",
        "no-prefix",
        "lowercase-prefix",
        "spaces",
        "bare-numbers",
        "any-order",
        "padded",
        "keyid",
    ],
)
def test_parse_accepts_what_peers_send(value: str) -> None:
    assert SignatureHeader.parse(value) == header()


def test_parse_takes_the_algorithm_from_the_parameter_when_key_id_has_none() -> None:
    value = CANONICAL.replace("bap.example.com|k1|ed25519", "bap.example.com|k1")
    assert SignatureHeader.parse(value) == header()


def test_parse_defaults_the_signed_headers_when_absent() -> None:
    value = CANONICAL.replace('headers="(created) (expires) digest",', "")
    assert SignatureHeader.parse(value).headers == SIGNED_HEADERS


def test_a_unique_key_id_may_contain_a_bar() -> None:
    value = CANONICAL.replace("|k1|", "|k1|2024|")
    assert SignatureHeader.parse(value).unique_key_id == "k1|2024"


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("", "empty"),
        ("Bearer abc.def", "cannot read"),
        (CANONICAL.replace('signature="', 'sig="'), "no 'signature'"),
        (CANONICAL.replace('created="1700000000",', ""), "no 'created'"),
        (CANONICAL.replace('keyId="bap.example.com|k1|ed25519",', ""), "no 'keyid'"),
        (CANONICAL.replace("bap.example.com|k1|ed25519", "bap.example.com"), "keyId"),
        (CANONICAL.replace("bap.example.com|k1|ed25519", "|k1|ed25519"), "keyId"),
        (CANONICAL.replace("bap.example.com|k1|ed25519", "bap.example.com||ed25519"), "keyId"),
        (CANONICAL.replace('"1700000000"', '"soon"'), "Unix timestamp"),
        (CANONICAL.replace('"1700000000"', '"1700000000.5"'), "Unix timestamp"),
        (CANONICAL.replace('"1700000000"', '"-1"'), "Unix timestamp"),
        (CANONICAL.replace('"1700000000"', '"\u0661\u0667\u0660\u0660"'), "Unix timestamp"),
        (CANONICAL + ',created="1"', "repeats"),
        (CANONICAL.replace(f'signature="{SIGNATURE}"', 'signature="not base64!"'), "not base64"),
        (CANONICAL.replace('algorithm="ed25519"', 'algorithm="rsa-sha256"'), "keyId says algorithm"),
        (CANONICAL.replace('algorithm="ed25519"', 'algorithm="ed25519'), "cannot read"),
        (CANONICAL.replace("keyId=", "key Id="), "cannot read"),
    ],
)
def test_parse_rejects_what_cannot_be_a_signature_header(value: str, complaint: str) -> None:
    with pytest.raises(MalformedSignature, match=complaint) as caught:
        SignatureHeader.parse(value)
    assert caught.value.reason == "malformed signature header"


quoted_values = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='"'), max_size=40)


def reading(value: str) -> SignatureHeader | str:
    try:
        return SignatureHeader.parse(value)
    except MalformedSignature as exc:
        return f"malformed: {exc}"


@given(
    st.one_of(quoted_values, st.builds("{}|{}|ed25519".format, subscriber_ids, unique_key_ids)),
    st.one_of(quoted_values, st.just("ed25519")),
    st.one_of(quoted_values, timestamps.map(str)),
    st.one_of(quoted_values, timestamps.map(str)),
    st.one_of(quoted_values, st.just("(created) (expires) digest")),
    st.one_of(quoted_values, signatures),
)
def test_the_exact_beckn_006_layout_reads_as_any_other_spelling_of_it(
    key_id: str, algorithm: str, created: str, expires: str, headers: str, signature: str
) -> None:
    """Headers laid out exactly as `format` writes them take a shortcut; it must read the same."""
    exact = (
        f'Signature keyId="{key_id}",algorithm="{algorithm}",created="{created}",'
        f'expires="{expires}",headers="{headers}",signature="{signature}"'
    )
    spaced = exact.replace('",', '", ')  # the same parameters, read the general way
    assert reading(exact) == reading(spaced)
    assert reading(exact.removeprefix("Signature ")) == reading(spaced)


@given(st.text(max_size=200))
def test_parse_raises_only_malformed_signature(value: str) -> None:
    try:
        SignatureHeader.parse(value)
    except MalformedSignature:
        pass


@pytest.mark.parametrize(
    "changes",
    [{"subscriber_id": "a|b"}, {"subscriber_id": ""}, {"unique_key_id": 'k"1'}, {"algorithm": ""}],
)
def test_a_header_that_could_not_be_read_back_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        header(**changes)
