"""Every refusal of the service is an :class:`ApiError`: an HTTP status, a stable machine-readable code and a
reason for people. Bodies are ``{"code", "reason", "request_id", "details"?}``.

Risk rules keep the name :mod:`models.risk` gives them as their code; :data:`RISK_STATUS` says which
HTTP status each gets (422: the request can never pass as it is; 409: the state of the book or the
model refuses it now).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)  # not frozen: raising sets __traceback__
class ApiError(Exception):
    status: int
    code: str
    message: str
    details: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self, request_id: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "reason": self.message, "request_id": request_id}
        if self.details is not None:
            out["details"] = self.details
        return out


RISK_STATUS: dict[str, int] = {
    "impossible_combo": 422,
    "stake_too_small": 422,
    "stake_above_max": 422,
    "market_exposure_limit": 409,
    "lp_capacity": 409,
    "lp_drawdown": 409,
    "uncertainty_too_high": 409,
    "price_off_grid": 409,
    "probability_out_of_range": 409,
}


def risk_error(rule: str, reason: str, max_stake: object = None) -> ApiError:
    details = {"rule": rule}
    if max_stake is not None:
        details["max_stake"] = str(max_stake)
    return ApiError(RISK_STATUS.get(rule, 409), rule, reason, details)


# Codes used across the service (listed in the OpenAPI description).
ERROR_CODES: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "the body is not valid JSON"),
    "missing_api_key": (401, "no X-API-Key (or Authorization: Bearer) header"),
    "invalid_api_key": (401, "unknown, revoked or malformed key"),
    "not_found": (404, "no such route"),
    "unknown_quote": (404, "no quote with this id for this key"),
    "unknown_bet": (404, "no bet with this id for this key"),
    "method_not_allowed": (405, "the route does not accept this method"),
    "market_closed": (409, "a leg's market is not open"),
    "quote_already_used": (409, "a bet was already placed on this quote"),
    "idempotency_key_reused": (409, "the idempotency key was used for a different bet"),
    "quote_exhausted": (409, "the quote's stake is already taken by earlier bets"),
    "price_changed": (409, "the risk engine would price the bet differently from the quote"),
    "price_moved": (409, "last look: the fair probability moved beyond the tolerance since the quote "
                         "(details.new_quote offers the new price)"),
    "quote_expired": (410, "the quote expired: ask for a new one"),
    "payload_too_large": (413, "the body exceeds the size limit"),
    "headers_too_large": (431, "the request line and headers exceed the size limit"),
    "invalid_request": (422, "the body does not match the schema"),
    "invalid_stake": (422, "stake is not a positive amount in whole cents within the request bound"),
    "invalid_idempotency_key": (422, "idempotency_key must have 1 to 200 printable characters"),
    "invalid_ticker": (422, "a ticker does not have Kalshi's format"),
    "invalid_side": (422, "a side is not 'yes' or 'no'"),
    "too_few_legs": (422, "fewer legs than a parlay needs"),
    "too_many_legs": (422, "more legs than the service quotes"),
    "duplicate_legs": (422, "the same leg appears twice"),
    "conflicting_sides": (422, "both sides of one market"),
    "unknown_market": (422, "a ticker the pricer does not know"),
    "stake_exceeds_quote": (422, "the bet's stake is above the quoted stake"),
    "rate_limited": (429, "over a rate limit (the key's, failed authentications, public health); see Retry-After"),
    "internal_error": (500, "unexpected failure (logged with the request id)"),
    "database_unavailable": (503, "the ledger database cannot be reached"),
    "rate_limiter_unavailable": (503, "Redis (rate limits) cannot be reached; see Retry-After"),
    "pricer_unavailable": (503, "no pricing model is loaded"),
    "stale_model": (503, "the pricing model is older than the allowed age"),
    "stale_market_data": (503, "a leg's market data is older than the allowed age (at a bet: details.new_quote "
                               "offers a new quote when one can be made)"),
    **{rule: (status, "risk rule") for rule, status in RISK_STATUS.items()},
}
