"""What customers read (emails, the survey page), per language.

A dictionary rather than gettext catalogues: two languages, a few dozen strings, and no compiled
.mo files to keep in step. `text(language, key, **values)` falls back to English.
"""

TEXTS = {
    "en": {
        "subject": "A minute of your time? Tell us how we did",
        "reminder_subject": "Reminder: tell us how we did",
        "greeting": "Hello {name},",
        "intro": "We would value your opinion. It takes about a minute.",
        "reminder_intro": "A gentle reminder: your opinion still matters to us. It takes about a minute.",
        "cta": "Answer the survey",
        "link_note": "The link is personal; it works until {date}.",
        "unsubscribe": "Don't want survey emails? Unsubscribe",
        "page_title": "Your opinion",
        "required": "required",
        "submit": "Send my answers",
        "saved_note": "Your answers are saved as you go; you can come back to this page later.",
        "errors_summary": "Please check the answers marked below.",
        "thanks_title": "Thank you!",
        "thanks": "Your answers have been received. Thank you for helping us improve.",
        "already_title": "Already answered",
        "already": "This survey has already been answered. Thank you!",
        "expired_title": "This survey has closed",
        "expired": "Sorry, this survey is no longer open for answers. Thank you for your interest.",
        "unknown_title": "Survey not found",
        "unknown": "We could not find this survey. The link may be incomplete: please copy the whole "
        "link from the email.",
        "unsubscribe_title": "Unsubscribe from surveys",
        "unsubscribe_question": "Stop sending me survey emails.",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed": "You will not receive survey emails from us any more.",
        "low": "Not at all likely",
        "high": "Extremely likely",
        "choose_one": "Choose one",
        "choose_any": "Choose any that apply",
        # The survey page's own words (the public page of issue 3).
        "error_prefix": "Error",
        "saved": "Your answers so far are saved.",
        "sending": "Sending…",
    },
    "ru": {
        "subject": "Уделите минуту? Расскажите, как мы справились",
        "reminder_subject": "Напоминание: расскажите, как мы справились",
        "greeting": "Здравствуйте, {name}!",
        "intro": "Нам важно ваше мнение. Это займёт около минуты.",
        "reminder_intro": "Напоминаем: ваше мнение по-прежнему важно для нас. Это займёт около минуты.",
        "cta": "Ответить на вопросы",
        "link_note": "Ссылка персональная и действует до {date}.",
        "unsubscribe": "Не хотите получать опросы? Отписаться",
        "page_title": "Ваше мнение",
        "required": "обязательно",
        "submit": "Отправить ответы",
        "saved_note": "Ответы сохраняются по ходу заполнения; можно вернуться на эту страницу позже.",
        "errors_summary": "Пожалуйста, проверьте отмеченные ниже ответы.",
        "thanks_title": "Спасибо!",
        "thanks": "Ваши ответы получены. Спасибо, что помогаете нам стать лучше.",
        "already_title": "Ответ уже получен",
        "already": "На этот опрос уже ответили. Спасибо!",
        "expired_title": "Опрос закрыт",
        "expired": "К сожалению, этот опрос больше не принимает ответы. Спасибо за интерес.",
        "unknown_title": "Опрос не найден",
        "unknown": "Мы не нашли этот опрос. Возможно, ссылка скопирована не полностью: скопируйте "
        "её из письма целиком.",
        "unsubscribe_title": "Отписка от опросов",
        "unsubscribe_question": "Больше не присылать мне опросы.",
        "unsubscribe_button": "Отписаться",
        "unsubscribed_title": "Вы отписались",
        "unsubscribed": "Мы больше не будем присылать вам опросы.",
        "low": "Совсем маловероятно",
        "high": "Очень вероятно",
        "choose_one": "Выберите один вариант",
        "choose_any": "Выберите все подходящие",
        "error_prefix": "Ошибка",
        "saved": "Ваши ответы сохранены.",
        "sending": "Отправляем…",
    },
}

# Answer-validation messages of surveys.models (English) as the customer's language shows them.
VALIDATION_RU = {
    "Please answer this question.": "Пожалуйста, ответьте на этот вопрос.",
    "Choose a score.": "Выберите оценку.",
    "Choose one of the options offered.": "Выберите один из предложенных вариантов.",
    "Choose among the options offered.": "Выберите из предложенных вариантов.",
    "Write your answer as text.": "Напишите ответ текстом.",
}


def text(language: str, key: str, **values) -> str:
    template = TEXTS.get(language, TEXTS["en"]).get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template


def validation_message(language: str, message: str) -> str:
    """A validation message in the customer's language (scores and lengths keep their numbers)."""
    if language != "ru":
        return message
    if message in VALIDATION_RU:
        return VALIDATION_RU[message]
    if message.startswith("Choose a score from "):
        low, high = message.removeprefix("Choose a score from ").rstrip(".").split(" to ")
        return f"Выберите оценку от {low} до {high}."
    if message.startswith("Please keep it under "):
        limit = message.removeprefix("Please keep it under ").split(" ")[0]
        return f"Пожалуйста, не больше {limit} символов."
    return message
