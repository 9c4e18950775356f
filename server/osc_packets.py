"""OSC packets as bytes: building a message, framing packets on TCP, checking raw packets.

* :func:`build_message` makes one OSC message (replies, tests, clients).
* TCP carries packets in one of two framings, chosen per connection: OSC 1.0 puts a
  4-byte big-endian length before each packet (:func:`length_frame`), OSC 1.1 wraps
  each in SLIP (:func:`slip_encode`, :func:`slip_decode`). :data:`MAX_TCP_PACKET`
  bounds either.
* The checks a raw packet passes before python-osc parses or matches it
  (:func:`check_bundle`, :func:`unsupported_tags`, :func:`costly_pattern`): python-osc
  truncates, skips or backtracks silently where these refuse with a reason, which the
  server sends back as ``/fail``. :func:`address_of` names a broken packet in that reply.
"""

from __future__ import annotations

import struct

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
MAX_TCP_PACKET = 1 << 20
MAX_ADDRESS = 256              # bytes of an address (pattern) that are looked up
MAX_WILDCARDS = 8              # '*' and '?' in one address pattern
MAX_BUNDLE_DEPTH = 32          # bundles nested inside bundles
MAX_BUNDLE_MESSAGES = 64       # messages in one packet, nested bundles included
KNOWN_TAGS = set("ifsbhdtcrmTFNI[]")


def build_message(address: str, *args) -> bytes:
    """One OSC message as bytes; Python ints become ``i``, floats ``f``, str ``s``."""
    builder = OscMessageBuilder(address=address)
    for arg in args:
        if isinstance(arg, bool):
            arg = int(arg)
        builder.add_arg(arg)
    return builder.build().dgram


def length_frame(packet: bytes) -> bytes:
    """``packet`` in OSC 1.0 TCP framing: its 4-byte big-endian length, then the packet."""
    return struct.pack(">I", len(packet)) + packet


def slip_encode(packet: bytes) -> bytes:
    body = packet.replace(bytes([SLIP_ESC]), bytes([SLIP_ESC, SLIP_ESC_ESC]))
    body = body.replace(bytes([SLIP_END]), bytes([SLIP_ESC, SLIP_ESC_END]))
    return bytes([SLIP_END]) + body + bytes([SLIP_END])


def slip_decode(frame: bytes) -> bytes:
    out = bytearray()
    it = iter(frame)
    for byte in it:
        if byte == SLIP_ESC:
            nxt = next(it, None)
            if nxt == SLIP_ESC_END:
                out.append(SLIP_END)
            elif nxt == SLIP_ESC_ESC:
                out.append(SLIP_ESC)
            else:
                raise ValueError("bad SLIP escape")
        else:
            out.append(byte)
    return bytes(out)


def check_bundle(data: bytes, depth: int = 1) -> int:
    """Raise ValueError unless every element's size fits (python-osc truncates silently).

    Returns the number of messages inside, nested bundles included.
    """
    if depth > MAX_BUNDLE_DEPTH:
        raise ValueError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16:
        raise ValueError("bundle shorter than its header")
    index = 16
    messages = 0
    while index < len(data):
        if index + 4 > len(data):
            raise ValueError("truncated element size")
        size = struct.unpack(">i", data[index:index + 4])[0]
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise ValueError(f"element of {size} bytes does not fit the bundle")
        element = data[index:index + size]
        if element.startswith(b"#bundle"):
            messages += check_bundle(element, depth + 1)
        else:
            messages += 1
        index += size
    return messages


def unsupported_tags(dgram: bytes) -> str:
    """The type tags python-osc cannot parse, '' if all are known."""
    try:
        _, index = osc_types.get_string(dgram, 0)
        tags, _ = osc_types.get_string(dgram, index) if index < len(dgram) else (",", index)
    except osc_types.ParseError:
        return ""
    return "".join(sorted(set(tags[1:]) - KNOWN_TAGS)) if tags.startswith(",") else ""


def costly_pattern(address: str) -> str:
    """Why ``address`` is too costly to match ('' if it is fine)."""
    if len(address) > MAX_ADDRESS:
        return f"address longer than {MAX_ADDRESS} characters"
    if address.count("*") + address.count("?") > MAX_WILDCARDS:
        return f"address pattern with more than {MAX_WILDCARDS} wildcards"
    return ""


def address_of(data: bytes) -> str:
    """The address at the start of a (possibly broken) packet, for the /fail reply."""
    if data.startswith(b"#bundle"):
        return "#bundle"
    head = data[:256].split(b"\x00", 1)[0]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return "?"
    return text if text.startswith("/") and text.isprintable() else "?"
