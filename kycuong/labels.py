"""What people read, in Vietnamese: one table per kind of code, used by the CLI, API and reports,
and the one way a number is written in text (``vn_number``)."""

from __future__ import annotations


def vn_number(value: float) -> str:
    """A number as Vietnamese write it in text: a decimal comma, at most two decimals, no
    needless zeros: 0,5 · 5 · 12,25 · 2483 (no grouping); text or a bool is refused.

    Every number written into text a person reads goes through here (flags, reasons, the PDFs'
    cells, messages): ``f"{x:g}"`` wrote 0.5 and turned 1234567 into 1.23457e+06."""
    if isinstance(value, bool | str | bytes):
        raise TypeError(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")  # a Decimal of a SQL sum too
    return "0" if text == "-0" else text.replace(".", ",")


VIOLATION = {
    "late": "Đi muộn",
    "early_leave": "Về sớm",
    "absent": "Vắng mặt không lý do",
    "missing_in": "Quên chấm công vào",
    "missing_out": "Quên chấm công ra",
}
DAY_STATUS = {
    "present": "Có mặt",
    "late": "Đi muộn",
    "absent": "Vắng mặt",
    "on_leave": "Nghỉ có lý do",
    "holiday": "Ngày lễ, Tết",
    "weekend": "Ngày nghỉ hằng tuần",
    "off_shift": "Không có ca",
    "pending": "Chưa đến giờ",
}
SESSION = {"morning": "Sáng", "afternoon": "Chiều", "night": "Đêm"}
EXCUSE = {
    "annual_leave": "Nghỉ phép năm",
    "sick_leave": "Nghỉ ốm",
    "maternity": "Nghỉ thai sản",
    "personal_paid": "Nghỉ việc riêng có hưởng lương",
    "unpaid_leave": "Nghỉ không hưởng lương",
    "business_trip": "Đi công tác",
    "training": "Đi học, tập huấn, bồi dưỡng",
    "outside_meeting": "Họp, hội nghị bên ngoài",
    "compensatory_day": "Nghỉ bù",
    "other": "Lý do khác",
}
REVIEW: dict[str | None, str] = {
    None: "Chưa xử lý",
    "confirmed": "Xác nhận",
    "excused": "Có lý do",
    "dismissed": "Bỏ qua",
}
EXCUSE_STATUS = {"pending": "Chờ duyệt", "approved": "Đã duyệt", "cancelled": "Đã hủy"}
DEAD_LETTER = {
    "malformed_json": "Dữ liệu không phải JSON",
    "schema": "Sai cấu trúc dữ liệu",
    "device_mismatch": "Mã thiết bị không khớp chủ đề",
    "unknown_topic": "Chủ đề không hợp lệ",
    "unknown_device": "Thiết bị chưa đăng ký",
    "disabled_device": "Thiết bị đã bị khóa",
    "future_time": "Thời gian chấm công ở tương lai",
    "store_error": "Lỗi lưu trữ",
    "too_old": "Lượt chấm công quá cũ",
    "before_registration": "Chấm công trước khi đăng ký đầu đọc",
    "implausible_clock": "Đồng hồ đầu đọc sai lệch bất thường",
    "invalid": "Không kiểm tra được tin",
}
REQUEST_KIND = {
    "explanation": "Giải trình",
    "missing_punch": "Bổ sung giờ chấm",
    "leave": "Xin nghỉ",
    "trip": "Đi công tác",
}
REQUEST_STATUS = {
    "pending": "Chờ duyệt",
    "approved": "Đã duyệt",
    "refused": "Không duyệt",
    "superseded": "Đã thay bằng đề nghị mới",
}
REQUEST_ACTION = {
    "created": "Gửi đề nghị",
    "approved": "Duyệt",
    "refused": "Không duyệt",
    "superseded": "Thay bằng đề nghị mới",
    # The head decided the violation itself while the giải trình waited (services.requests).
    "by_review": "Xử lý trực tiếp vi phạm",
}


def dead_letter_label(code: str) -> str:
    """The Vietnamese reason of a dead letter, by its code (whatever its stored message)."""
    return DEAD_LETTER.get(code, f"Lý do khác ({code})")


# What a credential is (loại mã chấm công); a card is valid on every reader, the others on
# the reader or group of readers that enrolled them.
CREDENTIAL_KIND = {
    "card": "Thẻ",
    "pin": "Mã chấm công trên máy",
    "face": "Khuôn mặt",
    "fingerprint": "Vân tay",
    "qr": "Mã QR",
}
ROLE = {
    "unit_head": "Trưởng đơn vị",
    "noi_vu": "Nội vụ",
    "hr_clerk": "Văn thư, tổ chức cán bộ",
    "admin": "Quản trị hệ thống",
    "auditor": "Thanh tra, kiểm tra",
    "employee": "Cán bộ, công chức",
}
DIRECTION = {"in": "Vào", "out": "Ra", "both": "Vào và ra"}
# Roster import (nhập danh sách): what a row of the file will do, and the kinds of file.
ROSTER_ACTION = {
    "create": "Tạo mới",
    "update": "Cập nhật",
    "unchanged": "Không đổi",
    "refuse": "Từ chối",
}
ROSTER_KIND = {"units": "Đơn vị", "employees": "Cán bộ"}
NOTIFICATION_STATUS = {
    "queued": "Chờ gửi",
    "waiting": "Chờ địa chỉ",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "failed": "Gửi không được",
    "cancelled": "Đã hủy",
    "expired": "Hết hạn",
}
NOTIFICATION_KIND = {
    "violation_flagged": "Vi phạm mới",
    "unit_digest": "Tổng hợp cho trưởng đơn vị",
    "monthly_summary": "Báo cáo tháng cho Nội vụ",
    "request_decided": "Kết quả đề nghị",
    "plain": "Thông báo",
}
