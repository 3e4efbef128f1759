"""A backend from an IBM provider by name, so that a stored set's id is enough to retrieve it:
``QiskitRuntimeService.backend(name)`` or qiskit-ibm-provider's ``IBMProvider.get_backend``."""

from __future__ import annotations

from typing import Any

from ..exceptions import JobManagerInvalidInputError

_KINDS = {
    ("qiskit_ibm_runtime", "QiskitRuntimeService"): "backend",
    ("qiskit_ibm_provider", "IBMProvider"): "get_backend",
}


def _lookup(provider: Any) -> str | None:
    """The name of the provider's method that gives a backend by name; None for other kinds."""
    for cls in type(provider).__mro__:
        root = cls.__module__.split(".")[0]
        method = _KINDS.get((root, cls.__name__))
        if method is not None:
            return method
    return None


def backend_from_provider(provider: Any, name: str) -> Any:
    """The backend called ``name`` of ``provider``; clear errors for another kind of provider
    or a name it does not know."""
    method = _lookup(provider)
    if method is None:
        raise JobManagerInvalidInputError(
            "provider must be a qiskit_ibm_runtime.QiskitRuntimeService or qiskit-ibm-provider's "
            f"IBMProvider, got {type(provider).__module__}.{type(provider).__qualname__}; or pass "
            "backend=... instead"
        )
    try:
        return getattr(provider, method)(name)
    except Exception as exc:
        try:
            known = sorted(str(b.name) for b in provider.backends())
        except Exception:
            known = []
        listed = ", ".join(known) if known else "none could be listed"
        raise JobManagerInvalidInputError(
            f"the set ran on {name!r}, which {type(provider).__name__} does not know ({exc}); "
            f"its backends: {listed}. Pass backend=... to retrieve the set onto another one"
        ) from exc


def account_scope(provider: Any, backend_name: str) -> tuple[Any, ...] | None:
    """Who IBM counts pending jobs for: the provider's account (its URL and instance, as
    ``active_account()`` names them) on one backend; None where the provider does not say."""
    try:
        account = provider.active_account()
    except Exception:
        return None
    if not isinstance(account, dict):
        return None
    return (
        type(provider).__qualname__,
        account.get("url"),
        account.get("instance"),
        account.get("channel"),
        backend_name,
    )
