"""The DEG demand-flexibility profile (layer 2): tag groups that carry kW, windows, grid nodes and money
inside Beckn 1.1 messages, each described by a JSON Schema shipped beside this module."""

from schemas.profile.tag_groups import TagValue, format_tag_value, read_tag_group, tag_group
from schemas.profile.validation import (
    PROFILE_TAG_GROUPS,
    ProfileError,
    profile_errors,
    schema_of,
    validate_tag_group,
)

__all__ = [
    "PROFILE_TAG_GROUPS",
    "ProfileError",
    "TagValue",
    "format_tag_value",
    "profile_errors",
    "read_tag_group",
    "schema_of",
    "tag_group",
    "validate_tag_group",
]
