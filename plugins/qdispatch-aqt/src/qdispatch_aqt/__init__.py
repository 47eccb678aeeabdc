"""qdispatch plugin: AQT's cloud (backend and executor ``aqt``) and AQT's offline simulators."""

from qdispatch_aqt.errors import (
    AQTAPIError,
    AQTConversionError,
    AQTCredentialsError,
    AQTJobFailedError,
    AQTJobNotFoundError,
    AQTSubmitUncertainError,
    AQTTransientError,
)

__all__ = [
    "AQTAPIError",
    "AQTConversionError",
    "AQTCredentialsError",
    "AQTJobFailedError",
    "AQTJobNotFoundError",
    "AQTSubmitUncertainError",
    "AQTTransientError",
]
