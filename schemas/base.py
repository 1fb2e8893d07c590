"""What every contract model is built on: the Avro-bounded number and time types and
``AvroModel``. The records themselves are in ``schemas.models`` (and, by topic, in
``schemas.declared`` and ``schemas.candidate``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["TIMESTAMP_MAX", "TIMESTAMP_MIN", "AvroModel", "Int", "Long", "Timestamp", "utcnow"]

#: What every role can carry: Avro ``timestamp-millis`` is a 64-bit count, but Python's
#: ``datetime`` (which decoders build) stops at year 9999 (a time zone offset can push a
#: local 9999-12-31 past it) and ClickHouse's ``DateTime64(3)`` at 2299-12-31. Times
#: outside are not facts of a box office; refusing them keeps one record from stopping a
#: reader. ``bus.ranges`` checks the same bounds on every record read or written.
TIMESTAMP_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(2299, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def _representable(value: datetime) -> datetime:
    if not TIMESTAMP_MIN <= value <= TIMESTAMP_MAX:
        raise ValueError(f"time {value.isoformat()} is outside what the contract carries "
                         f"({TIMESTAMP_MIN.year}-01-01 to {TIMESTAMP_MAX.year}-12-31 UTC)")
    return value


#: Avro ``int``: 32-bit signed.
Int = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
#: Avro ``long``: 64-bit signed.
Long = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
#: Avro ``timestamp-millis`` as an aware datetime every role can decode.
Timestamp = Annotated[AwareDatetime, AfterValidator(_representable)]

def utcnow() -> datetime:
    """Now, in UTC, truncated to the millisecond that Avro keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class AvroModel(BaseModel):
    """Base of every contract model: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)
    __avro_schema__: ClassVar[str] = ""

    def to_avro(self) -> dict[str, Any]:
        """The record as fastavro writes it (enums as their symbols)."""
        return self.model_dump(mode="python")

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        """Build the model from a record fastavro has read."""
        return cls.model_validate(record)
