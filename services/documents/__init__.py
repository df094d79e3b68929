"""Documents offices file: the discipline report as an official document and the bảng chấm
công (mẫu C01a-HD), as XLSX and PDF, built from value objects (no routes, no queries)."""
