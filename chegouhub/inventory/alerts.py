"""When a stock alert opens or resolves: one pure function, called by every path that moves stock.

Crossing to `estoque_atual <= estoque_minimo` (and > 0) opens `estoque_baixo`; crossing to
`<= 0` opens `estoque_zerado`; rising above a threshold resolves its alert; at most one active
alert per produto and tipo (CONTRACT section 4). Reaching zero from above also announces
`produto_estoque_zero`.
"""

from __future__ import annotations

from dataclasses import dataclass

BAIXO = "estoque_baixo"
ZERADO = "estoque_zerado"


@dataclass(frozen=True)
class AlertTransition:
    open: tuple[str, ...] = ()
    resolve: tuple[str, ...] = ()
    reached_zero: bool = False

    def __bool__(self) -> bool:
        return bool(self.open or self.resolve or self.reached_zero)


def alert_transition(*, before: int, after: int, minimo: int, active: frozenset[str] | set[str]) -> AlertTransition:
    """What a change from `before` to `after` does to a produto's alerts (`active`: its active tipos)."""
    to_open, to_resolve = [], []
    if after <= 0:
        if ZERADO not in active:
            to_open.append(ZERADO)
    elif ZERADO in active:
        to_resolve.append(ZERADO)
    if 0 < after <= minimo and BAIXO not in active:
        to_open.append(BAIXO)
    elif after > minimo and BAIXO in active:
        to_resolve.append(BAIXO)
    return AlertTransition(open=tuple(to_open), resolve=tuple(to_resolve), reached_zero=after <= 0 < before)
