"""Hypothesis strategies for hostile ROS messages: any value of every field that the message type allows.

Floats include NaN, infinities and extremes, integers their whole range, sequences are empty or long,
nested messages are hostile too; only what rclpy itself refuses to build (a value outside the field's
type) is left out, since no publisher can send it.
"""

from hypothesis import strategies as st
from ros_helpers import message_type
from rosidl_parser.definition import (
    AbstractGenericString,
    AbstractNestedType,
    Array,
    BasicType,
    BoundedSequence,
    NamespacedType,
)

INTEGERS = {
    'int8': 8, 'uint8': 8, 'int16': 16, 'uint16': 16, 'int32': 32, 'uint32': 32, 'int64': 64, 'uint64': 64,
    'char': 8, 'byte': 8,
}  # fmt: skip
MAX_SEQUENCE = 64  # elements of an unbounded sequence (`sequence_sizes` overrides per field)


def slot_values(slot, sizes: dict[str, st.SearchStrategy[int]], field: str = '') -> st.SearchStrategy:
    """Values of one field of a rosidl slot type."""
    if isinstance(slot, AbstractNestedType):
        element = slot_values(slot.value_type, sizes)
        if isinstance(slot, Array):
            return st.lists(element, min_size=slot.size, max_size=slot.size)
        most = slot.maximum_size if isinstance(slot, BoundedSequence) else MAX_SEQUENCE
        size = sizes.get(field, st.integers(0, most))
        return size.flatmap(lambda n: st.lists(element, min_size=n, max_size=n))
    if isinstance(slot, AbstractGenericString):
        return st.text(st.characters(blacklist_categories=('Cs',)), max_size=40)
    if isinstance(slot, NamespacedType):
        return messages(message_type('/'.join([*slot.namespaces, slot.name])), sizes)
    assert isinstance(slot, BasicType), slot
    name = slot.typename
    if name == 'boolean':
        return st.booleans()
    if name in ('float', 'double'):
        return st.floats(width=32 if name == 'float' else 64)
    if name == 'octet':
        return st.binary(min_size=1, max_size=1)
    bits = INTEGERS[name]
    if name.startswith('u') or name in ('char', 'byte'):
        return st.integers(0, 2**bits - 1)
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def messages(msg_type: type, sizes: dict[str, st.SearchStrategy[int]] | None = None) -> st.SearchStrategy:
    """Messages of `msg_type` with every field hostile; `sizes` bounds sequence fields by name."""
    sizes = sizes or {}
    fields = list(zip(msg_type.get_fields_and_field_types(), msg_type.SLOT_TYPES, strict=True))
    values = {field: slot_values(slot, sizes, field) for field, slot in fields}

    def build(kwargs: dict) -> object:
        message = msg_type()
        for field, value in kwargs.items():
            setattr(message, field, value)
        return message

    return st.fixed_dictionaries(values).map(build)
