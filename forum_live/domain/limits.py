"""Rate limiting as a pure token bucket: the caller passes the clock, so tests need no sleep."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: int  # bucket size
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Take `cost` tokens at time `now`; False (and nothing taken) when there are too few."""
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        elif now > self.stamp:
            self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
