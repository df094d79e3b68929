"""The blocks every official document carries (Nghị định 30/2020/NĐ-CP on administrative
documents): Quốc hiệu and tiêu ngữ, the issuing agency, the recipient, place and date, the
signatures."""

from __future__ import annotations

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

    agency: str
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

    def dated_line(self) -> str:
        """'Hà Nội, ngày 01 tháng 12 năm 2026' (the place is left out when unknown)."""
        if self.generated is None:
            return "Ngày ... tháng ... năm ..."
        g = self.generated
        text = f"ngày {g:%d} tháng {g:%m} năm {g:%Y}"
        return f"{self.place}, {text}" if self.place else text[0].upper() + text[1:]
