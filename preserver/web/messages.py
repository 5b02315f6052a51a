"""Every text the pages show, in English and Arabic: ``{key: {"en": ..., "ar": ...}}``.

Keys name what the text is for. ``{name}`` fields are filled by ``i18n.translate``;
their values are escaped by the templates like everything else.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "app.name": {"en": "preserver", "ar": "preserver"},
    "app.tagline": {"en": "Evidence archive", "ar": "أرشيف الأدلة"},
    "nav.reports": {"en": "Reports", "ar": "التقارير"},
    "nav.linkrot": {"en": "Link rot", "ar": "الروابط المفقودة"},
    "nav.check": {"en": "Is this the file?", "ar": "هل هذا هو الملف؟"},
    "nav.runs": {"en": "Runs", "ar": "عمليات الحفظ"},
    "nav.signed_in_as": {"en": "Signed in as {name} ({role})",
                         "ar": "مسجّل الدخول باسم {name} ({role})"},
    "nav.sign_out": {"en": "Sign out", "ar": "تسجيل الخروج"},
    "nav.language": {"en": "العربية", "ar": "English"},
    "login.title": {"en": "Sign in", "ar": "تسجيل الدخول"},
    "login.name": {"en": "Name", "ar": "الاسم"},
    "login.password": {"en": "Password", "ar": "كلمة المرور"},
    "login.submit": {"en": "Sign in", "ar": "دخول"},
    "login.failed": {"en": "Wrong name or password.", "ar": "الاسم أو كلمة المرور غير صحيحة."},
    "login.too_many": {"en": "Too many failed sign-ins. Try again in {minutes} minutes.",
                       "ar": "محاولات دخول فاشلة كثيرة. حاول مجددًا بعد {minutes} دقيقة."},
    "error.title": {"en": "Error {status}", "ar": "خطأ {status}"},
    "error.back": {"en": "Back to the reports", "ar": "العودة إلى التقارير"},
    "reports.title": {"en": "Reports", "ar": "التقارير"},
    "reports.none": {"en": "No report has been ingested yet.",
                     "ar": "لم يُستورد أي تقرير بعد."},
    "reports.name": {"en": "Report", "ar": "التقرير"},
    "reports.ingested": {"en": "Ingested", "ar": "تاريخ الاستيراد"},
    "reports.citations": {"en": "Citations", "ar": "الاستشهادات"},
    "reports.links": {"en": "Links", "ar": "الروابط"},
    "reports.states": {"en": "Held", "ar": "المحفوظ"},
    "reports.availability": {"en": "Availability", "ar": "الإتاحة"},
    "state.complete": {"en": "complete", "ar": "كامل"},
    "state.partial": {"en": "partial", "ar": "جزئي"},
    "state.failed": {"en": "failed", "ar": "فشل"},
    "state.queued": {"en": "queued", "ar": "في الانتظار"},
    "state.running": {"en": "running", "ar": "قيد التنفيذ"},
    "state.retry": {"en": "to retry", "ar": "بانتظار إعادة المحاولة"},
    "state.done": {"en": "done", "ar": "تم"},
    "state.not_queued": {"en": "not queued", "ar": "غير مجدول"},
}
