"""qdispatch plugin: AQT's cloud (backend and executor ``aqt``), AQT's offline simulators, a local AQT server."""

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
