"""What customers read on the feedback app's public pages (the request-status page and the web
feedback form), per language.

A dictionary rather than gettext catalogues, as in surveys/texts.py: two languages, a few dozen
strings. `text(language, key, **values)` falls back to English.
"""

TEXTS = {
    "en": {
        "reply_subject": "Re: {subject} (request #{number})",
        "reply_follow": "Follow your request, and see when to expect an answer: {url}",
        # --- the request-status page
        "status_title": "Your request",
        "kind_complaint": "Complaint",
        "kind_request": "Question or request",
        "kind_suggestion": "Suggestion",
        "kind_praise": "Thanks and praise",
        "kind_review": "Review",
        "reference": "Reference number",
        "subject": "Subject",
        "logged_at": "Received",
        "steps_title": "Where it stands",
        "step_received": "Received",
        "step_working": "Being worked on",
        "step_working_again": "Being worked on again",
        "step_waiting": "Waiting for your reply",
        "step_resolved": "Resolved",
        "step_closed": "Closed",
        "step_done": "done",
        "step_current": "current stage",
        "expect_title": "When to expect an answer",
        "expect_answer": "We will answer you by {time}.",
        "expect_resolution": "We aim to resolve it by {time}.",
        "expect_overdue": "It is taking longer than we planned, and we are sorry. We are working on it "
        "and will answer as soon as we can.",
        "expect_paused": "Paused while we wait for your reply: we carry on as soon as you answer.",
        "expect_soon": "We will answer as soon as we can.",
        "resolution_title": "How it was resolved",
        "resolved_at": "Resolved on {time}.",
        "closed_at": "Closed on {time}.",
        "zone_note": "Times are shown in {zone} time (UTC{offset}).",
        "keep_link": "Keep the address of this page: it always shows where your request stands.",
        "received_title": "Thank you, we have your message",
        "received": "Keep the address of this page (bookmark it): it shows where your request stands "
        "and when to expect an answer.",
        "unknown_title": "Request not found",
        "unknown": "We could not find this request. The link may be incomplete: please copy the whole "
        "link you were given.",
        # A moment: Django's date format for the date and time, and where the weekday goes.
        "datetime_format": "j F Y, H:i",
        "moment": "{weekday}, {date}",
        # --- the web feedback form
        "form_title": "Write to us",
        "form_intro": "Tell us what happened or what you would like. We will answer you, and you can "
        "follow your request on its own page.",
        "kind_label": "What is it?",
        "name_label": "Your name",
        "contact_label": "E-mail or phone",
        "contact_hint": "So that we can answer you.",
        "subject_label": "Subject",
        "message_label": "Your message",
        "language_label": "Language of our answer",
        "language_auto": "As on this page",
        "trap_label": "Leave this field empty",
        "required": "required",
        "optional": "optional",
        "submit": "Send",
        "sending": "Sending…",
        "errors_summary": "Please check the fields marked below.",
        "error_prefix": "Error",
        "other_language": "Русский",
        "err_required": "Please fill this in.",
        "err_kind": "Choose what it is.",
        "err_contact": "Enter an e-mail address (name@example.com) or a phone number with at least 7 digits.",
        "err_too_long": "Please keep it under {limit} characters.",
        "err_language": "Choose one of the languages offered.",
        "err_too_fast": "That was very quick. Please check your message and send it again.",
        "err_trap": "We could not accept this form. Please send it again.",
        "err_expired": "This form was open for a long time. Please send it again.",
        "err_not_saved": "We could not save your message. Please check it and send it again.",
        "limited_title": "Too many messages",
        "limited": "We have received several messages from your network in a short time. Please try "
        "again in about {minutes} minutes. Thank you for your patience.",
    },
    "ru": {
        "reply_subject": "Re: {subject} (обращение №{number})",
        "reply_follow": "Следить за обращением и сроком ответа: {url}",
        "status_title": "Ваше обращение",
        "kind_complaint": "Жалоба",
        "kind_request": "Вопрос или просьба",
        "kind_suggestion": "Предложение",
        "kind_praise": "Благодарность",
        "kind_review": "Отзыв",
        "reference": "Номер обращения",
        "subject": "Тема",
        "logged_at": "Получено",
        "steps_title": "Что с ним сейчас",
        "step_received": "Получено",
        "step_working": "В работе",
        "step_working_again": "Снова в работе",
        "step_waiting": "Ждём вашего ответа",
        "step_resolved": "Решено",
        "step_closed": "Закрыто",
        "step_done": "выполнено",
        "step_current": "текущий этап",
        "expect_title": "Когда ждать ответа",
        "expect_answer": "Мы ответим вам до {time}.",
        "expect_resolution": "Мы постараемся решить вопрос до {time}.",
        "expect_overdue": "Это занимает больше времени, чем мы планировали, — простите. Мы работаем "
        "над вашим обращением и ответим как можно скорее.",
        "expect_paused": "Приостановлено, пока мы ждём вашего ответа: продолжим, как только вы ответите.",
        "expect_soon": "Мы ответим как можно скорее.",
        "resolution_title": "Как решили вопрос",
        "resolved_at": "Решено: {time}.",
        "closed_at": "Закрыто: {time}.",
        "zone_note": "Время указано по часовому поясу {zone} (UTC{offset}).",
        "keep_link": "Сохраните адрес этой страницы: на ней всегда видно, что с вашим обращением.",
        "received_title": "Спасибо, мы получили ваше сообщение",
        "received": "Сохраните адрес этой страницы (добавьте в закладки): на ней видно, что с вашим "
        "обращением и когда ждать ответа.",
        "unknown_title": "Обращение не найдено",
        "unknown": "Мы не нашли это обращение. Возможно, ссылка скопирована не полностью: скопируйте "
        "её целиком.",
        # E: the month's name as it follows a day number ("30 ноября"); the weekday after the
        # date, so that "до {time}" reads right without declining it.
        "datetime_format": "j E Y, H:i",
        "moment": "{date} ({weekday})",
        "form_title": "Напишите нам",
        "form_intro": "Расскажите, что случилось или чего бы вам хотелось. Мы ответим, а следить за "
        "обращением можно будет на его собственной странице.",
        "kind_label": "Что вы хотите сообщить?",
        "name_label": "Ваше имя",
        "contact_label": "E-mail или телефон",
        "contact_hint": "Чтобы мы могли вам ответить.",
        "subject_label": "Тема",
        "message_label": "Ваше сообщение",
        "language_label": "Язык ответа",
        "language_auto": "Как на этой странице",
        "trap_label": "Оставьте это поле пустым",
        "required": "обязательно",
        "optional": "необязательно",
        "submit": "Отправить",
        "sending": "Отправляем…",
        "errors_summary": "Пожалуйста, проверьте отмеченные ниже поля.",
        "error_prefix": "Ошибка",
        "other_language": "English",
        "err_required": "Пожалуйста, заполните это поле.",
        "err_kind": "Выберите, что вы хотите сообщить.",
        "err_contact": "Укажите адрес e-mail (name@example.com) или номер телефона — не меньше 7 цифр.",
        "err_too_long": "Пожалуйста, не больше {limit} символов.",
        "err_language": "Выберите один из предложенных языков.",
        "err_too_fast": "Это было очень быстро. Пожалуйста, проверьте сообщение и отправьте его ещё раз.",
        "err_trap": "Мы не смогли принять форму. Пожалуйста, отправьте её ещё раз.",
        "err_expired": "Форма была открыта слишком долго. Пожалуйста, отправьте её ещё раз.",
        "err_not_saved": "Не удалось сохранить сообщение. Пожалуйста, проверьте его и отправьте ещё раз.",
        "limited_title": "Слишком много сообщений",
        "limited": "Мы получили несколько сообщений из вашей сети за короткое время. Пожалуйста, "
        "попробуйте снова примерно через {minutes} мин. Спасибо за терпение.",
    },
}

LANGUAGE_CODES = tuple(TEXTS)


def text(language: str, key: str, **values) -> str:
    template = TEXTS.get(language, TEXTS["en"]).get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template


def all_texts(language: str) -> dict[str, str]:
    """Every text in one language, for a template (`t.submit`)."""
    return {key: text(language, key) for key in TEXTS["en"]}
