"""How things are described and labelled: descriptors, media, and the tag groups DEG extends."""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, Text
from schemas.core_v1.enums import ContentTypeField, ImageSizeField


class MediaFile(BecknModel):
    mimetype: str | None = None
    url: str | None = None
    signature: str | None = None
    dsa: str | None = None


class Image(BecknModel):
    url: str | None = None
    size_type: ImageSizeField = None
    width: Text | None = None
    height: Text | None = None


class AdditionalDescription(BecknModel):
    url: str | None = None
    content_type: ContentTypeField = None


class Descriptor(BecknModel):
    name: str | None = None
    code: str | None = None
    short_desc: str | None = None
    long_desc: str | None = None
    additional_desc: AdditionalDescription | None = None
    media: list[MediaFile] | None = None
    images: list[Image] | None = None


class Tag(BecknModel):
    descriptor: Descriptor | None = None
    value: Text | None = None
    display: bool | None = None


TagList = list[Tag]


class TagGroup(BecknModel):
    """A named list of tags; the DEG flexibility profile (`schemas.profile`) defines its own groups."""

    display: bool | None = None
    descriptor: Descriptor | None = None
    list: TagList | None = None


class Option(BecknModel):
    """A selectable option, such as a cancellation reason."""

    id: str | None = None
    descriptor: Descriptor | None = None
