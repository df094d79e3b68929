"""The discipline policy (quy chế): thresholds an agency or unit sets, with DOMAIN defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rules.calendar import Margins

PunchMode = Literal["per_session", "per_day"]
BreakCut = Literal["earlier_end", "middle", "later_start"]
MissingPunch = Literal["flag", "ignore"]


@dataclass(frozen=True, slots=True)
class Policy:
    """How punches are judged. Every number is configurable; these are the defaults.

    - ``late_grace_s``: an arrival up to start + grace is on time (đi muộn after it);
    - ``early_grace_s``: a departure from end − grace on is on time (về sớm before it);
    - ``absent_after_late_s``: arriving later than this counts as absent for the session;
    - ``punch_mode``: in and out for each session, or first in / last out for the day;
    - ``double_tap_s``: punches this close to the previous one are the same punch;
    - ``missing_punch``: flag a missing check-in or check-out (quên chấm công) for review, or
      ignore it (some agencies only count lateness, early departure and absence);
    - ``retap_s``: a punch this soon after another is its retap, never a departure;
    - ``break_cut``: where a lone punch in the break between two sessions stops being the
      earlier session's departure and becomes the later one's arrival, when nothing else
      decides (docs/rules.md): the earlier end, the middle of the break, or the later start.
    """

    late_grace_s: int = 5 * 60
    early_grace_s: int = 5 * 60
    absent_after_late_s: int = 120 * 60
    punch_mode: PunchMode = "per_session"
    double_tap_s: int = 120
    missing_punch: MissingPunch = "flag"
    retap_s: int = 10 * 60
    break_cut: BreakCut = "earlier_end"
    margins: Margins = field(default_factory=Margins)
