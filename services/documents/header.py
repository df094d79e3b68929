"""The blocks every official document carries (Nghị định 30/2020/NĐ-CP on administrative
documents): Quốc hiệu and tiêu ngữ, the issuing agency, the recipient, place and date, the
signatures."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
SUGGESTS = (
    "Số liệu do phần mềm tổng hợp từ dữ liệu chấm công; người có thẩm quyền xem xét, quyết định."
)


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature block: the role (Người lập biểu), the note (Ký, họ tên), the name if known."""

    role: str
    note: str = "(Ký, ghi rõ họ tên)"
    name: str = ""


@dataclass(frozen=True, slots=True)
class DocumentHeader:
    """Who issues the document, to whom, for which period, when it was generated."""

    agency: str  # the issuing body (cơ quan ban hành)
    unit: str = ""
    recipient: str = ""
    period_label: str = ""
    generated: datetime | None = None
    place: str = ""
    signatures: tuple[Signature, ...] = field(
        default=(
            Signature("Người lập biểu"),
            Signature("Thủ trưởng đơn vị", "(Ký, họ tên, đóng dấu)"),
        )
    )
    parent: str = ""  # the supervising body (cơ quan chủ quản); "" when unknown

    def issuer_lines(self) -> tuple[str, str]:
        """The issuing block (Nghị định 30/2020/NĐ-CP): (supervising body in upper case, not
        bold; issuing body in bold upper case). Without a supervising body: (issuing body, "")
        — the caller sets the first line bold then; never the same name twice."""
        agency = self.agency.upper()
        if self.parent and not same_body(self.parent, self.agency):
            return self.parent.upper(), agency
        return agency, ""

    def dated_line(self) -> str:
        """'Hà Nội, ngày 01 tháng 12 năm 2026' (the place is left out when unknown)."""
        if self.generated is None:
            return "Ngày ... tháng ... năm ..."
        g = self.generated
        text = f"ngày {g:%d} tháng {g:%m} năm {g:%Y}"
        return f"{self.place}, {text}" if self.place else text[0].upper() + text[1:]


def same_body(a: str, b: str) -> bool:
    """Whether two names are the same body: case, spaces and a "(demo)"-like note aside."""

    def norm(name: str) -> str:
        return " ".join(re.sub(r"\([^)]*\)", " ", name).casefold().split())

    return norm(a) == norm(b)


def addressee(recipient: str, agency: str, parent: str) -> str:
    """Who the document goes to (Kính gửi): the configured ``recipient``, else the supervising
    body ``parent``; "" when none is known or it would be the issuer ``agency`` itself."""
    chosen = recipient.strip() or parent.strip()
    return "" if not chosen or same_body(chosen, agency) else chosen
