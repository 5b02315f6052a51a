"""The link-rot report as one self-contained HTML page, in Arabic, right to left.

No script, no external font, stylesheet or image: inline CSS and an inline SVG
stacked-bar chart of link kinds per day. Every value from the archive (report
names, labels, URLs, messages) is untrusted text and passes through
``html.escape``; URLs and hashes are set ``dir="ltr"`` so they read correctly
inside right-to-left text.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from preserver.views.linkrot.report import (
    KINDS,
    Counts,
    DayCounts,
    LinkrotLink,
    LinkrotReport,
    ReportRot,
)

KIND_AR = {"up": "متاح", "down": "محذوف", "restricted": "مقيّد", "unknown": "غير معروف"}
COLORS = {"up": "#2e7d32", "down": "#c62828", "restricted": "#ef6c00", "unknown": "#9e9e9e"}
STATUS_AR = {
    "available": "متاح", "removed_uploader": "حذفه الناشر",
    "removed_policy": "حُذف لمخالفة سياسات المنصة", "removed_copyright": "حُذف بسبب حقوق النشر",
    "account_terminated": "أُغلق الحساب", "not_found": "غير موجود", "private": "خاص",
    "geo_blocked": "محجوب جغرافياً", "age_restricted": "مقيّد بالعمر",
    "login_required": "يتطلب تسجيل الدخول", "members_only": "للأعضاء فقط",
    "bot_check": "تعذّر الفحص (حاجز التحقق من الروبوتات)",
    "rate_limited": "تعذّر الفحص (حدّ الطلبات)", "error": "تعذّر الفحص", "unknown": "لم يُفحص",
}
HELD_AR = {"complete": "نسخة كاملة", "page only": "الصفحة فقط"}

_CSS = """
body{font-family:system-ui,"Segoe UI",Tahoma,sans-serif;margin:2rem;color:#212121}
h1,h2{font-weight:600}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:start;vertical-align:top}
th{background:#f3f3f3}
.ltr{direction:ltr;unicode-bidi:isolate;font-family:ui-monospace,monospace;font-size:.85em}
.hash{word-break:break-all}
.up{color:#2e7d32}.down{color:#c62828}.restricted{color:#ef6c00}.unknown{color:#757575}
.lost{color:#c62828;font-weight:600}
.legend span{display:inline-block;margin-inline-end:1rem}
.swatch{display:inline-block;width:.8em;height:.8em;margin-inline-end:.3em}
.swatch.up{background:#2e7d32}.swatch.down{background:#c62828}
.swatch.restricted{background:#ef6c00}.swatch.unknown{background:#9e9e9e}
figure{margin:1rem 0}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _ltr(value: object, cls: str = "") -> str:
    return f'<span dir="ltr" class="ltr {cls}">{_e(value)}</span>'


def _status(status: str | None) -> str:
    if status is None:
        return "—"
    return f"{_e(STATUS_AR.get(status, status))} {_ltr(status)}"


def _counts_table(counts: Counts, reasons: tuple[tuple[str, int], ...]) -> str:
    cells = "".join(f'<td class="{k}">{_e(KIND_AR[k])}: {getattr(counts, k)}</td>'
                    for k in KINDS)
    out = f"<table><tr><th>المجموع: {counts.total}</th>{cells}</tr></table>"
    if reasons:
        rows = "".join(f"<tr><td>{_status(s)}</td><td>{n}</td></tr>" for s, n in reasons)
        out += f"<table><tr><th>سبب الحذف</th><th>عدد الروابط</th></tr>{rows}</table>"
    return out


def chart(history: tuple[DayCounts, ...], *, width: int = 720, height: int = 200,
          names: Mapping[str, str] = KIND_AR, title: str = "حالة الروابط يوماً بيوم",
          empty: str = "لا توجد تغييرات في حالة الروابط بعد.") -> str:
    """An inline SVG stacked-bar chart: links of each kind at the end of each day, its
    kinds called ``names``. No ``style`` attribute (a page whose Content-Security-Policy
    forbids inline styles shows it): the legend's swatches are coloured by the classes
    ``swatch up`` … ``swatch unknown``, the bars by SVG ``fill``. Left to right by SVG's
    own ``direction`` attribute: its text ignores HTML's ``dir``, and on a right to left
    page the axis labels ran out of the chart."""
    if not history:
        return f"<p>{_e(empty)}</p>"
    top = max(d.counts.total for d in history) or 1
    pad, bottom = 30, 20
    plot_w, plot_h = width - 2 * pad, height - bottom - 10
    bar = plot_w / len(history)
    parts = []
    for i, d in enumerate(history):
        y = 10.0 + plot_h
        for kind in KINDS:
            n = getattr(d.counts, kind)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect x="{pad + i * bar:.2f}" y="{y:.2f}" width="{max(bar - 1, 0.5):.2f}" '
                f'height="{h:.2f}" fill="{COLORS[kind]}"><title>{_e(d.day)} '
                f'{_e(names[kind])}: {n}</title></rect>')
    axis = (f'<text x="{pad}" y="{height - 4}" font-size="11">{_e(history[0].day)}</text>'
            f'<text x="{width - pad}" y="{height - 4}" font-size="11" text-anchor="end">'
            f'{_e(history[-1].day)}</text>'
            f'<text x="{pad - 4}" y="18" font-size="11" text-anchor="end">{top}</text>')
    legend = "".join(f'<span><span class="swatch {k}"></span>{_e(names[k])}</span>'
                     for k in KINDS)
    return (f'<figure><svg dir="ltr" direction="ltr" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
            f'{"".join(parts)}{axis}</svg>'
            f'<figcaption class="legend">{legend}</figcaption></figure>')


def _witness(link: LinkrotLink) -> str:
    """The independent witness's latest snapshot, under the copy held."""
    if link.witness is None:
        return ""
    return (f"<br>شاهد مستقل: {_ltr(link.witness.service)} {_ltr(link.witness.time)}"
            f"<br>{_ltr(link.witness.url)}")


def _copy_cells(link: LinkrotLink) -> str:
    if link.copy is None:
        held = '<span class="lost">مفقود</span>' if link.lost else "—"
        return f"<td>{held}{_witness(link)}</td><td></td><td></td><td></td>"
    hashes = "<br>".join(_ltr(f.sha256, "hash") for f in link.copy.files)
    sizes = "<br>".join(_ltr(f.size) for f in link.copy.files)
    held = _e(HELD_AR.get(link.copy.held, link.copy.held))
    if link.lost:
        held += ' <span class="lost">(الفيديو مفقود)</span>'
    return (f"<td>{held}{_witness(link)}</td><td>{hashes}</td><td>{sizes}</td>"
            f"<td>{_ltr(link.copy.captured_at)}</td>")


def _links_table(links: tuple[LinkrotLink, ...]) -> str:
    head = ("<tr><th>الدليل</th><th>الرابط</th><th>الحالة</th><th>منذ</th><th>آخر فحص</th>"
            "<th>النسخة المحفوظة</th><th>SHA-256</th><th>الحجم (بايت)</th>"
            "<th>تاريخ الالتقاط</th></tr>")
    rows = []
    for link in links:
        labels = "<br>".join(_e(label) for label in link.labels)
        rows.append(
            f'<tr><td dir="auto">{labels}</td><td>{_ltr(link.url)}<br>{_ltr(link.key)}</td>'
            f'<td class="{_e(link.kind)}">{_status(link.status)}</td>'
            f"<td>{_ltr(link.since) if link.since else '—'}</td>"
            f"<td>{_ltr(link.last_checked_at) if link.last_checked_at else '—'}"
            f"{'<br>' + _status(link.last_status) if link.last_status else ''}</td>"
            f"{_copy_cells(link)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _section(r: ReportRot) -> str:
    return (f'<section><h2>التقرير: <span dir="auto">{_e(r.name)}</span></h2>'
            f"<p>SHA-256: {_ltr(r.sha256, 'hash')}</p>"
            f"{_counts_table(r.counts, r.down_by_reason)}{chart(r.history)}"
            f"{_links_table(r.links)}</section>")


def render_html(result: LinkrotReport) -> str:
    """The whole page as text (UTF-8 when written)."""
    sections = "".join(_section(r) for r in result.reports)
    return (
        '<!DOCTYPE html>\n<html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>تقرير تلف الروابط</title><style>{_CSS}</style></head><body>"
        f"<h1>تقرير تلف الروابط</h1><p>أُعدّ في {_ltr(result.generated_at)}</p>"
        f"<h2>جميع التقارير المعروضة</h2>"
        f"{_counts_table(result.totals, result.down_by_reason)}{chart(result.history)}"
        f"{sections}</body></html>\n")
