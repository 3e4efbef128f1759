"""How transient failures are retried."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .backends.ibm_errors import is_permanent_http_error
from .exceptions import JobManagerError, JobManagerInvalidInputError
from .validation import positive_int

logger = logging.getLogger(__name__)

# Exceptions that mean "this input will never run", not "the service hiccupped".
_PERMANENT = (TypeError, ValueError, AttributeError, KeyError, NotImplementedError, JobManagerError)


def is_transient(exc: BaseException) -> bool:
    """Default test for a failure worth retrying: anything but a programming or input error,
    or a service's 4xx answer (bad token, unknown backend) that another try cannot change."""
    return not isinstance(exc, _PERMANENT) and not is_permanent_http_error(exc)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of a chunk whose submission or result fetch raised.

    A job that ran and ended in ERROR is not retried automatically: a deterministic failure would
    only fail again and spend quota. Call ``retry`` / ``retry_failed`` for those.

    Example:
        ``RetryPolicy(attempts=5, initial_delay=2.0)`` tries each chunk up to five times, waiting
        2 s, 4 s, 8 s, 16 s between tries.
    """

    attempts: int = 3
    """Tries per chunk before it is left FAILED for a manual retry (1 = no automatic retry)."""
    initial_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 60.0
    retry_on: Callable[[BaseException], bool] = is_transient

    def __post_init__(self) -> None:
        positive_int("RetryPolicy.attempts", self.attempts, optional=False)
        for name in ("initial_delay", "factor", "max_delay"):
            value = getattr(self, name)
            # ``not value >= 0`` also refuses NaN, which would make every delay NaN.
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise JobManagerInvalidInputError(
                    f"RetryPolicy.{name} must be a number >= 0, got {value!r}"
                )
        if not callable(self.retry_on):
            raise JobManagerInvalidInputError(
                f"RetryPolicy.retry_on must be callable, got {self.retry_on!r}"
            )

    def delay(self, failures: int) -> float:
        """Pause before the next try, after ``failures`` failed tries in a row."""
        return float(min(self.max_delay, self.initial_delay * self.factor ** max(0, failures - 1)))

    def should_retry(self, exc: BaseException, failures: int) -> bool:
        return failures < self.attempts and self.is_transient(exc)

    def is_transient(self, exc: BaseException) -> bool:
        """Whether ``retry_on`` calls ``exc`` worth another try, whatever the budget."""
        try:
            return bool(self.retry_on(exc))
        except Exception:
            # A broken predicate must not wedge the chunk: treat its failure as "do not retry".
            logger.exception("RetryPolicy.retry_on raised; not retrying")
            return False
