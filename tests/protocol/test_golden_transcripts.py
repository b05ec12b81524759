"""Protocol v1 keeps answering what it answered: every golden transcript (tests/protocol/golden) replayed over every
transport of a session gets exactly the recorded messages (docs/protocol.md §13, "Compatibility")."""
import glob
import os

import pytest

pytest.importorskip("websockets")
pytest.importorskip("msgpack")

import transcripts  # noqa: E402  (tests/protocol/transcripts.py)

TRANSCRIPTS = sorted(glob.glob(os.path.join(transcripts.GOLDEN, "*.txt")))


def test_there_are_transcripts_for_every_command_family():
    commands = set()
    for path in TRANSCRIPTS:
        for _, kind, text in transcripts.read_steps(path):
            if kind == ">":
                commands.add(transcripts.json.loads(text)["cmd"])
    assert {"connect", "subscribe", "unsubscribe", "publish", "ping", "presence", "presence_update", "signal", "ack",
            "history"} <= commands


@pytest.mark.parametrize("transport", transcripts.TRANSPORTS)
@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: os.path.basename(path)[:-4])
def test_the_server_answers_the_transcript_exactly(path, transport):
    with transcripts.fresh_server() as server:
        transcripts.replay(server, transport, path)


# The matcher itself: a golden test that cannot fail would promise nothing.


def test_a_placeholder_binds_and_must_repeat():
    bindings = transcripts.Bindings()
    bindings.expect('{"client":"$client","offset":$offset}', '{"client":"abc","offset":4}')
    assert bindings.substitute('{"since":{"offset":$offset},"c":"$client"}') == '{"since":{"offset":4},"c":"abc"}'
    bindings.expect('{"again":"$client"}', '{"again":"abc"}')
    with pytest.raises(AssertionError):
        bindings.expect('{"again":"$client"}', '{"again":"xyz"}')


@pytest.mark.parametrize("actual", [
    '{"b":2,"a":1}',  # member order
    '{"a":1, "b":2}',  # not minified
    '{"a":1,"b":2,"c":3}',  # a member more
    '{"a":1,"b":2.0}',  # another number form
    '{"a":"1","b":2}',  # a string for a number
])
def test_anything_but_the_exact_message_fails(actual):
    with pytest.raises(AssertionError):
        transcripts.Bindings().expect('{"a":1,"b":2}', actual)


def test_a_string_placeholder_takes_escaped_quotes_and_an_integer_one_no_fraction():
    bindings = transcripts.Bindings()
    bindings.expect('{"r":"$reason"}', '{"r":"say \\"hi\\""}')
    assert bindings.values["reason"] == ('say "hi"', True)
    with pytest.raises(AssertionError):
        transcripts.Bindings().expect('{"n":$n}', '{"n":1.5}')
