"""lib0's encodings as the Yjs tests read them (no pycrdt or Yjs needed)."""


def decode_state_vector(data):
    """A lib0-encoded state vector as {client: clock}: clients are listed in each implementation's own order, so a
    dict compares them by value."""
    position = 0

    def varuint():
        nonlocal position
        value, shift = 0, 0
        while True:
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    return {varuint(): varuint() for _ in range(varuint())}
